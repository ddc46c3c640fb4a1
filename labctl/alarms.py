"""The lab's alarms: raised by faults, shown until a person acknowledges them.

An alarm is raised once per occurrence (a kiln run that ends faulted or interrupted, a cast that
faults, a lost link, heat-off not confirmed, a machine loop's internal error, a lab-wide problem
such as the ledger stopping) and stays in the list, active while its condition lasts, until
acknowledged; who acknowledged it and when is kept and logged. Each alarm names its machine and
the run or cast it belongs to. An ending is one occurrence per machine, run or cast and reason:
a second run faulting with the same reason raises a second alarm. A lasting condition (a lost
link, heat-off not confirmed) is one occurrence from when it appears until it goes. Listeners
(:meth:`AlarmBoard.subscribe`: telemetry, MQTT) are told of every alarm raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from pydantic import Field

from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.kiln.snapshot import KilnSnapshot

log = logging.getLogger(__name__)

KEEP = 200  # acknowledged, cleared alarms beyond this many are dropped, oldest first
_BAD_ENDS = ("faulted", "interrupted")

Listener = Callable[["Alarm"], None]


@dataclass
class Alarm:
    """One alarm occurrence; ``run_id`` (a kiln run) or ``cast_id`` is what it belongs to."""

    id: int
    source: str
    text: str
    raised_wall: float
    active: bool = True
    acked_by: str | None = None
    acked_wall: float | None = None
    run_id: int | None = None
    cast_id: int | None = None

    @property
    def machine(self) -> str:
        """The machine of ``source`` (``kiln1`` for ``kiln1.link``), or ``lab``."""
        return self.source.split(".", 1)[0]


class AlarmBoard:
    """Every alarm since start-up, newest last; :attr:`on_change` is called on every change."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._alarms: list[Alarm] = []
        self._seen: dict[str, object] = {}  # per source: the occurrence last raised
        self._listeners: list[Listener] = []
        self._next_id = 1
        self.on_change: Callable[[], None] = lambda: None

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every alarm raised from now on, and those raised already."""
        self._listeners.append(listener)
        for alarm in self._alarms:
            self._tell(listener, alarm)

    def raise_alarm(
        self, source: str, text: str, *, run_id: int | None = None, cast_id: int | None = None
    ) -> Alarm:
        """A new alarm; ``source`` is the machine (``kiln1``, ``kiln1.link``) or ``lab``."""
        alarm = Alarm(self._next_id, source, text, self._wall(), run_id=run_id, cast_id=cast_id)
        self._next_id += 1
        self._alarms.append(alarm)
        self._trim()
        self.on_change()
        of = "" if run_id is None else f" (run {run_id})"
        of += "" if cast_id is None else f" (cast {cast_id})"
        log.critical("ALARM %d %s%s: %s", alarm.id, source, of, text)
        for listener in self._listeners:
            self._tell(listener, alarm)
        return alarm

    @staticmethod
    def _tell(listener: Listener, alarm: Alarm) -> None:
        try:
            listener(alarm)
        except Exception:  # a listener never stops an alarm, nor the loop that raised it
            log.exception("alarm listener failed on alarm %d", alarm.id)

    def clear(self, source: str) -> None:
        """The condition behind ``source``'s alarms has gone (they stay until acknowledged)."""
        for alarm in self._alarms:
            if alarm.source == source and alarm.active:
                alarm.active = False
                self.on_change()

    def acknowledge(self, alarm_id: int, by: str) -> Alarm:
        for alarm in self._alarms:
            if alarm.id == alarm_id:
                if alarm.acked_by is not None:
                    raise CommandRefused(f"alarm {alarm_id} was acknowledged by {alarm.acked_by}")
                alarm.acked_by, alarm.acked_wall = by, self._wall()
                self.on_change()
                log.info("alarm %d acknowledged by %s", alarm_id, by)
                return alarm
        raise CommandRefused(f"no alarm {alarm_id}")

    def as_json(self) -> list[dict[str, object]]:
        return [asdict(a) for a in reversed(self._alarms)]

    def texts(self) -> list[str]:
        return [f"{a.source}: {a.text}" for a in self._alarms if a.active or a.acked_by is None]

    def kiln(self, snap: KilnSnapshot) -> None:
        """Raise on a run that ended badly, a lost link, heat-off not confirmed."""
        ended, outcome = snap.outcome_run_id, snap.outcome
        text = f"run {ended}: {outcome}" if ended is not None else str(outcome)
        self._condition(snap.kiln, _ended_badly(outcome), (ended, outcome), text, run_id=ended)
        run = snap.run_id if snap.run_id is not None else ended
        link = "controller link lost"
        self._condition(f"{snap.kiln}.link", snap.link == "lost", link, link, run_id=snap.run_id)
        unsafe = "heat-off NOT confirmed on the controller"
        self._condition(f"{snap.kiln}.safety", not snap.safe, unsafe, unsafe, run_id=run)

    def caster(self, status: Mapping[str, object], _wall: float = 0.0) -> None:
        """Raise on a cast that ended badly or devices not confirmed safe."""
        name, outcome = str(status["caster"]), status.get("outcome")
        ended, now = _id(status.get("last_cast_id")), _id(status.get("cast_id"))
        text = f"cast {ended}: {outcome}" if ended is not None else str(outcome)
        self._condition(name, _ended_badly(outcome), (ended, outcome), text, cast_id=ended)
        unsafe, cast = "devices NOT confirmed safe", now if now is not None else ended
        self._condition(f"{name}.safety", status.get("safe") is False, unsafe, unsafe, cast_id=cast)

    def crashed(
        self, machine: str, reason: str, state: KilnSnapshot | Mapping[str, object] | None
    ) -> Alarm:
        """A machine loop's internal error, with the run or cast it ended (from ``state``)."""
        text = f"{machine}: {reason}; driven safe, its loop restarted"
        ended_by_it = f"faulted: {reason}"
        if isinstance(state, KilnSnapshot):
            run = state.outcome_run_id if state.outcome == ended_by_it else state.run_id
            return self.raise_alarm(machine, text, run_id=run)
        cast = None
        if state is not None:
            ended = state.get("outcome") == ended_by_it
            cast = _id(state.get("last_cast_id") if ended else state.get("cast_id"))
        return self.raise_alarm(machine, text, cast_id=cast)

    def condition(self, source: str, present: bool, text: str) -> None:
        """A standing condition of ``source`` (a machine not commissioned).

        Raised once when it appears, active until it goes; acknowledging it never clears it.
        A new ``text`` (fewer devices left) replaces the alarm: the old one is cleared, the new
        one raised.
        """
        if present and self._seen.get(source) not in (None, text):
            self._seen[source] = None
            self.clear(source)
        self._condition(source, present, text, text)

    def _condition(
        self, source: str, present: bool, key: object, text: str, **owner: int | None
    ) -> None:
        """Raise once when an occurrence (``key``) appears or changes; clear when it goes."""
        if present and self._seen.get(source) != key:
            self._seen[source] = key
            self.raise_alarm(source, text, **owner)
        elif not present and self._seen.get(source) is not None:
            self._seen[source] = None
            self.clear(source)

    def _trim(self) -> None:
        done = [a for a in self._alarms if not a.active and a.acked_by is not None]
        for alarm in done[: max(0, len(self._alarms) - KEEP)]:
            self._alarms.remove(alarm)


def _id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ended_badly(outcome: object) -> bool:
    return isinstance(outcome, str) and outcome.startswith(_BAD_ENDS)


class AckPayload(Payload):
    """Acknowledge one alarm."""

    id: int = Field(ge=1)


def register_alarm_commands(registry: CommandRegistry, board: AlarmBoard) -> None:
    """Register ``alarm_ack`` (technician) and ``alarms`` (observer)."""

    async def ack(p: AckPayload, who: Caller) -> Mapping[str, object]:
        return asdict(board.acknowledge(p.id, who.name))

    async def alarms(_: Payload, __: Caller) -> Mapping[str, object]:
        return {"alarms": board.as_json()}

    registry.register("alarm_ack", AckPayload, Role.TECHNICIAN, ack, "acknowledge an alarm")
    registry.register("alarms", Payload, Role.OBSERVER, alarms, "every alarm, newest first")
