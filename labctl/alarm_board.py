"""The lab's alarms: raised by faults, shown until a person acknowledges them.

An alarm is raised once per occurrence (a kiln run that ends faulted, a cast that faults, a
lost link, a lab-wide problem such as the ledger stopping) and stays in the list, active while
its condition lasts, until acknowledged; who acknowledged it and when is kept and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from pydantic import Field

from labctl.commands import Caller, CommandRefused, CommandRegistry, Payload, Role
from labctl.snapshot import KilnSnapshot

log = logging.getLogger(__name__)

KEEP = 200  # acknowledged, cleared alarms beyond this many are dropped, oldest first
_BAD_ENDS = ("faulted", "interrupted")


@dataclass
class Alarm:
    """One alarm occurrence."""

    id: int
    source: str
    text: str
    raised_wall: float
    active: bool = True
    acked_by: str | None = None
    acked_wall: float | None = None


class AlarmBoard:
    """Every alarm since start-up, newest last; :attr:`on_change` is called on every change."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._alarms: list[Alarm] = []
        self._seen: dict[str, object] = {}  # per source: the condition last raised
        self._next_id = 1
        self.on_change: Callable[[], None] = lambda: None

    def raise_alarm(self, source: str, text: str) -> Alarm:
        """A new alarm; ``source`` is the machine (``kiln1``, ``kiln1.link``) or ``lab``."""
        alarm = Alarm(self._next_id, source, text, self._wall())
        self._next_id += 1
        self._alarms.append(alarm)
        self._trim()
        self.on_change()
        log.critical("ALARM %d %s: %s", alarm.id, source, text)
        return alarm

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
        self._condition(snap.kiln, _ended_badly(snap.outcome), snap.outcome)
        self._condition(f"{snap.kiln}.link", snap.link == "lost", "controller link lost")
        self._condition(
            f"{snap.kiln}.safety", not snap.safe, "heat-off NOT confirmed on the controller"
        )

    def caster(self, status: Mapping[str, object], _wall: float = 0.0) -> None:
        """Raise on a cast that ended badly or devices not confirmed safe."""
        name, outcome, cast_id = status["caster"], status.get("outcome"), status.get("last_cast_id")
        text = f"cast {cast_id}: {outcome}" if cast_id is not None else str(outcome)
        self._condition(str(name), _ended_badly(outcome), text)
        self._condition(f"{name}.safety", status.get("safe") is False, "devices NOT confirmed safe")

    def _condition(self, source: str, present: bool, text: object) -> None:
        """Raise once when a condition appears (or changes text); clear when it goes."""
        if present and self._seen.get(source) != text:
            self._seen[source] = text
            self.raise_alarm(source, str(text))
        elif not present and source in self._seen and self._seen[source] is not None:
            self._seen[source] = None
            self.clear(source)

    def _trim(self) -> None:
        done = [a for a in self._alarms if not a.active and a.acked_by is not None]
        for alarm in done[: max(0, len(self._alarms) - KEEP)]:
            self._alarms.remove(alarm)


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
