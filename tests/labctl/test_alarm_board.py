"""The alarm board: raised once per occurrence, kept until acknowledged, commands by role."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from labctl.alarms import KEEP, AlarmBoard, register_alarm_commands
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.config.users import Role
from labctl.kiln.snapshot import KilnSnapshot

TECH = Caller("ana", Role.TECHNICIAN)


@dataclasses.dataclass
class Wall:
    t: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def board(wall: Wall) -> AlarmBoard:
    return AlarmBoard(wall)


def snap(**changes: object) -> KilnSnapshot:
    base = KilnSnapshot(kiln="kiln1", at=0.0, wall=0.0, link="ok", state="running", run_id=1)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def active(board: AlarmBoard, machine: str) -> list[object]:
    """The texts of the active alarms, each checked to name ``machine`` as its source."""
    alarms = [a for a in board.as_json() if a["active"]]
    assert all(machine in str(a["source"]) for a in alarms), alarms
    return [a["text"] for a in alarms]


def test_raise_clear_and_acknowledge(board: AlarmBoard, wall: Wall) -> None:
    changes: list[int] = []
    board.on_change = lambda: changes.append(1)
    first = board.raise_alarm("lab", "ledger stopped")
    wall.t += 5
    second = board.raise_alarm("kiln1", "faulted: over-temperature")
    assert (first.id, second.id) == (1, 2)
    assert [a["id"] for a in board.as_json()] == [2, 1]  # newest first
    assert board.as_json()[0]["raised_wall"] == wall.t
    assert len(changes) == 2

    board.clear("kiln1")
    assert board.as_json()[0]["active"] is False
    assert "kiln1: faulted: over-temperature" in board.texts()  # until acknowledged
    wall.t += 5
    acked = board.acknowledge(2, "ana")
    assert (acked.acked_by, acked.acked_wall) == ("ana", wall.t)
    assert board.texts() == ["lab: ledger stopped"]
    assert len(changes) == 4


def test_ack_twice_or_unknown_is_refused(board: AlarmBoard) -> None:
    alarm = board.raise_alarm("lab", "x")
    board.acknowledge(alarm.id, "ana")
    with pytest.raises(CommandRefused, match=f"alarm {alarm.id} was acknowledged by ana"):
        board.acknowledge(alarm.id, "ben")
    with pytest.raises(CommandRefused, match="no alarm 99"):
        board.acknowledge(99, "ben")
    assert board.as_json()[0]["acked_by"] == "ana"


def test_a_faulted_run_raises_one_alarm_not_one_per_tick(board: AlarmBoard) -> None:
    changes: list[int] = []
    board.on_change = lambda: changes.append(1)
    for _ in range(5):
        board.kiln(snap())
    assert board.as_json() == [] and changes == []
    for _ in range(5):
        board.kiln(snap(state="ended", outcome="faulted: thermocouple open"))
    assert active(board, "kiln1") == ["faulted: thermocouple open"]
    assert len(changes) == 1
    board.kiln(snap(run_id=2, outcome=None))  # the next run: the condition has gone
    assert active(board, "kiln1") == []
    assert len(board.as_json()) == 1  # kept until acknowledged
    board.kiln(snap(run_id=2, state="ended", outcome="faulted: thermocouple open"))
    assert len(board.as_json()) == 2  # a new occurrence, a new alarm


@pytest.mark.parametrize("outcome", ["completed", "aborted by ana", None])
def test_good_or_deliberate_ends_raise_nothing(board: AlarmBoard, outcome: str | None) -> None:
    board.kiln(snap(state="ended", outcome=outcome))
    assert board.as_json() == []


def test_interrupted_and_unsafe_kilns_raise(board: AlarmBoard) -> None:
    board.kiln(snap(state="ended", outcome="interrupted: daemon restarted", safe=False))
    texts = active(board, "kiln1")
    assert len(texts) == 2 and "interrupted: daemon restarted" in texts
    assert len({a["source"] for a in board.as_json()}) == 2  # cleared one by one
    board.kiln(snap(state="ended", outcome="interrupted: daemon restarted"))  # safe again
    assert active(board, "kiln1") == ["interrupted: daemon restarted"]


def test_a_lost_link_raises_and_clears_when_ok_again(board: AlarmBoard) -> None:
    for _ in range(3):
        board.kiln(snap(link="lost"))
    assert active(board, "kiln1") == ["controller link lost"]
    board.kiln(snap(link="degraded"))
    assert active(board, "kiln1") == []
    assert [t.endswith("controller link lost") for t in board.texts()] == [True]  # not acked
    board.acknowledge(1, "ana")
    assert board.texts() == []
    board.kiln(snap(link="lost"))
    assert [a["id"] for a in board.as_json() if a["active"]] == [2]


def caster(**changes: object) -> Mapping[str, object]:
    status: dict[str, object] = {
        "caster": "caster1",
        "outcome": None,
        "last_cast_id": None,
        "safe": True,
    }
    return status | changes


def test_caster_outcomes(board: AlarmBoard) -> None:
    board.caster(caster())
    board.caster(caster(outcome="completed", last_cast_id=3))
    assert board.as_json() == []
    for _ in range(3):
        board.caster(caster(outcome="faulted: vacuum not reached", last_cast_id=4))
    assert active(board, "caster1") == ["cast 4: faulted: vacuum not reached"]
    board.caster(caster(outcome="faulted: vacuum not reached", last_cast_id=5))
    assert len(active(board, "caster1")) == 2  # another cast, another alarm
    board.caster(caster(outcome="completed", last_cast_id=6, safe=False))
    assert active(board, "caster1") == ["devices NOT confirmed safe"]


def test_only_the_newest_acknowledged_cleared_alarms_are_kept(board: AlarmBoard) -> None:
    for i in range(KEEP + 20):
        alarm = board.raise_alarm(f"s{i}", "x")
        board.clear(f"s{i}")
        if i >= 5:
            board.acknowledge(alarm.id, "ana")
    kept = board.as_json()
    assert len(kept) == KEEP
    ids = {a["id"] for a in kept}
    assert {1, 2, 3, 4, 5} <= ids  # never acknowledged: never dropped
    assert KEEP + 20 in ids


async def test_alarm_commands_through_a_registry(board: AlarmBoard) -> None:
    registry = CommandRegistry()
    register_alarm_commands(registry, board)
    alarm = board.raise_alarm("lab", "ledger stopped")
    observer = Caller("kiosk", Role.OBSERVER)
    listed = await registry.dispatch("alarms", {}, observer)
    assert listed == {"alarms": board.as_json()}
    with pytest.raises(CommandRefused, match="technician"):
        await registry.dispatch("alarm_ack", {"id": alarm.id}, observer)
    with pytest.raises(CommandRefused, match="alarm_ack: id"):
        await registry.dispatch("alarm_ack", {"id": 0}, TECH)
    result = await registry.dispatch("alarm_ack", {"id": alarm.id}, TECH)
    assert result["acked_by"] == "ana" and result["id"] == alarm.id
    with pytest.raises(CommandRefused, match="acknowledged by ana"):
        await registry.dispatch("alarm_ack", {"id": alarm.id}, Caller("ben", Role.SUPERVISOR))


def test_two_runs_ending_alike_raise_two_alarms_each_with_its_run_id(board: AlarmBoard) -> None:
    """Issue 12: the second run faulting with the same reason raised nothing."""
    board.kiln(snap(run_id=4))
    ended = snap(run_id=None, state="idle", outcome="faulted: sensor break", outcome_run_id=4)
    for _ in range(3):
        board.kiln(ended)
    board.kiln(snap(run_id=5, outcome="faulted: sensor break", outcome_run_id=4))  # runs again
    for _ in range(3):
        board.kiln(dataclasses.replace(ended, outcome_run_id=5))
    mine = [(a["run_id"], a["text"]) for a in board.as_json()]
    assert mine == [(5, "run 5: faulted: sensor break"), (4, "run 4: faulted: sensor break")]


def test_lasting_conditions_carry_the_run_they_began_in(board: AlarmBoard) -> None:
    board.kiln(snap(run_id=4, link="lost"))
    board.kiln(snap(run_id=None, state="idle", link="lost", outcome_run_id=3))  # still lost
    board.kiln(snap(run_id=None, state="idle", safe=False, outcome="faulted: x", outcome_run_id=4))
    alarms = [(a["source"], a["run_id"]) for a in reversed(board.as_json())]
    assert alarms == [("kiln1.link", 4), ("kiln1", 4), ("kiln1.safety", 4)]


def test_caster_alarms_carry_their_cast_id(board: AlarmBoard) -> None:
    for _ in range(2):
        board.caster(caster(outcome="faulted: e-stop pressed", last_cast_id=8))
    board.caster(caster(outcome="faulted: e-stop pressed", last_cast_id=9, safe=False))
    alarms = [(a["source"], a["cast_id"], a["text"]) for a in reversed(board.as_json())]
    assert alarms == [
        ("caster1", 8, "cast 8: faulted: e-stop pressed"),
        ("caster1", 9, "cast 9: faulted: e-stop pressed"),
        ("caster1.safety", 9, "devices NOT confirmed safe"),
    ]


def test_a_crash_names_the_run_or_cast_it_ended(board: AlarmBoard) -> None:
    reason = "internal error: KeyError: 'x'"
    ran = snap(run_id=None, state="idle", outcome=f"faulted: {reason}", outcome_run_id=6)
    assert board.crashed("kiln1", reason, ran).run_id == 6
    idle = dataclasses.replace(ran, outcome="completed")
    assert board.crashed("kiln1", reason, idle).run_id is None  # no run was going
    cast = caster(outcome=f"faulted: {reason}", last_cast_id=3, cast_id=None)
    assert board.crashed("caster1", reason, cast).cast_id == 3
    waiting = caster(outcome="completed", last_cast_id=3, cast_id=None)
    assert board.crashed("caster1", reason, waiting).cast_id is None
    assert board.as_json()[0]["text"] == f"caster1: {reason}; driven safe, its loop restarted"


def test_listeners_hear_every_alarm_once_and_cannot_break_the_board(board: AlarmBoard) -> None:
    board.raise_alarm("lab", "ledger stopped")  # before anyone listened
    heard: list[tuple[int, str, int | None]] = []

    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    board.subscribe(broken)
    board.subscribe(lambda a: heard.append((a.id, a.machine, a.run_id)))
    board.kiln(snap(link="lost", run_id=2))
    board.kiln(snap(link="lost", run_id=2))
    assert heard == [(1, "lab", None), (2, "kiln1", 2)]
