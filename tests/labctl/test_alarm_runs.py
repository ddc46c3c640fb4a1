"""Alarms from a real kiln loop: every trip, with its run id, reaches the board and telemetry.

Regressions of issue 12: a second run faulting with the same reason as the one before raised
no alarm (the board compared texts, the snapshot's outcome had no run id), and no alarm reached
InfluxDB or MQTT (``KilnSnapshot.alarms`` was never set).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.capabilities import ControllerReading
from drivers.clock import VirtualClock
from labctl.alarms import AlarmBoard
from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.points import TelemetryPoint
from labctl.telemetry.service import Telemetry
from labctl.telemetry.snapshots import PointMaker
from tests.labctl import test_kiln_supervision as supervision
from tests.labctl.test_kiln_supervision import FlakyController, Kiln


@dataclass
class BreakingController(FlakyController):
    """The fake controller, whose thermocouple can break (a trip, not an error)."""

    broken: bool = False

    async def read(self) -> ControllerReading:
        reading = await super().read()
        return dataclasses.replace(reading, sensor_break=True) if self.broken else reading


@dataclass
class Spool:
    """Keeps what the telemetry offers."""

    points: list[TelemetryPoint] = field(default_factory=list)

    def offer(self, points: list[TelemetryPoint]) -> None:
        self.points += points


@dataclass
class Mqtt:
    """Keeps the events the telemetry publishes (state and readings are not looked at)."""

    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def publish_event(self, machine: str, event: Mapping[str, object]) -> None:
        self.events.append((machine, dict(event)))

    def publish_telemetry(self, machine: str, reading: Mapping[str, object]) -> None:
        pass

    def publish_state(self, machine: str, state: Mapping[str, object]) -> None:
        pass


@dataclass
class Wired:
    board: AlarmBoard
    telemetry: Telemetry
    spool: Spool
    mqtt: Mqtt

    def publish(self, snap: KilnSnapshot) -> None:
        """The daemon's snapshot listeners (``Lab.publish``): telemetry, then the board."""
        self.telemetry.kiln(snap)
        self.board.kiln(snap)

    def alarm_points(self) -> list[dict[str, Any]]:
        alarms = [p for p in self.spool.points if dict(p.tags).get("kind") == "alarm"]
        return [dict(p.tags) | dict(p.fields) for p in alarms]


@contextmanager
def wired(clock: VirtualClock) -> Iterator[Wired]:
    spool, mqtt = Spool(), Mqtt()
    telemetry = Telemetry(
        maker=PointMaker(lab="lab1"),
        spool=spool,  # type: ignore[arg-type]
        clock=clock,
        mqtt=mqtt,  # type: ignore[arg-type]
    )
    board = AlarmBoard(clock.wall)
    board.subscribe(telemetry.alarm)
    yield Wired(board, telemetry, spool, mqtt)


def _kiln_alarms(board: AlarmBoard) -> list[tuple[object, object]]:
    return [(a["run_id"], a["text"]) for a in reversed(board.as_json()) if a["source"] == "k1"]


async def _fault(k: Kiln, controller: BreakingController) -> int:
    run_id = await k.start()
    await k.tick(2)
    controller.broken = True
    await k.tick(2)
    controller.broken = False
    assert k.runner.snapshot.run_id is None and k.runner.snapshot.outcome_run_id == run_id
    return run_id


async def test_two_runs_faulting_alike_raise_two_alarms_each_with_its_run_id(
    tmp_path: Path, monkeypatch: Any
) -> None:
    clock = VirtualClock()
    monkeypatch.setattr(supervision, "FlakyController", BreakingController)
    with wired(clock) as w:
        async with supervision.kiln(tmp_path / "runs.sqlite", clock=clock) as k:
            k.runner._publish = w.publish  # the daemon passes Lab.publish
            controller = k.controller
            assert isinstance(controller, BreakingController)
            first = await _fault(k, controller)
            outcome = str(k.runner.snapshot.outcome)
            assert outcome.startswith("faulted:") and "sensor break" in outcome
            await k.tick(3)  # idle ticks carry the outcome: no repeat
            second = await _fault(k, controller)
            assert k.runner.snapshot.outcome == outcome  # the same text as the run before
            await k.tick(3)

        expected = [(first, f"run {first}: {outcome}"), (second, f"run {second}: {outcome}")]
        assert _kiln_alarms(w.board) == expected
        points = w.alarm_points()
        assert [(p["machine"], p["run_id"], p["text"]) for p in points] == [
            ("k1", run_id, text) for run_id, text in expected
        ]
        assert all(p["lab"] == "lab1" and p["source"] == "k1" for p in points)
        events = [(m, e) for m, e in w.mqtt.events if e["kind"] == "alarm"]
        assert [(m, e["run_id"], e["text"]) for m, e in events] == [
            ("k1", run_id, text) for run_id, text in expected
        ]


async def test_a_loop_crash_raises_an_alarm_with_the_run_it_ended(tmp_path: Path) -> None:
    clock = VirtualClock()
    with wired(clock) as w:
        async with supervision.kiln(tmp_path / "runs.sqlite", clock=clock) as k:
            k.runner._publish = w.publish

            def crashed(machine: str, reason: str) -> None:  # Lab.machine_crashed
                w.board.crashed(machine, reason, k.runner.snapshot)

            k.runner.on_crash = crashed
            run_ids = []
            for _ in range(2):
                run_ids.append(await k.start())
                await k.tick(2)
                k.controller.bug = "division by zero somewhere"
                await k.tick(3)
            k.controller.bug = "while idle"
            await k.tick(3)

        reason = "internal error: RuntimeError: division by zero somewhere"
        crash = f"k1: {reason}; driven safe, its loop restarted"
        idle = "k1: internal error: RuntimeError: while idle; driven safe, its loop restarted"
        a, b = run_ids
        assert _kiln_alarms(w.board) == [
            (a, f"run {a}: faulted: {reason}"), (a, crash),
            (b, f"run {b}: faulted: {reason}"), (b, crash),
            (None, idle),
        ]  # fmt: skip
        points = w.alarm_points()
        assert [p.get("run_id") for p in points] == [a, a, b, b, None]
        assert len({p["alarm_id"] for p in points}) == 5
