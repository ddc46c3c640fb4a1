"""Machine snapshots -> telemetry points and events (pure: no I/O, time from the snapshot).

:class:`PointMaker` turns each kiln snapshot and caster status into one reading point, and
notices what changed since the previous one (a run started or ended, a cast step), which becomes
an ``event`` point (HIGH priority) and an MQTT event. Each alarm the alarm board raises becomes
an ``alarm`` event too (:meth:`PointMaker.alarm`), with the run or cast it belongs to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.points import FieldValue, Priority, TelemetryPoint

Event = dict[str, FieldValue]


class RaisedAlarm(Protocol):
    """What a point needs of an alarm (:class:`labctl.alarms.Alarm`: that module does I/O)."""

    @property
    def id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def raised_wall(self) -> float: ...
    @property
    def run_id(self) -> int | None: ...
    @property
    def cast_id(self) -> int | None: ...
    @property
    def machine(self) -> str: ...


def _flag(value: object) -> int | None:
    return None if value is None else int(bool(value))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class PointMaker:
    """Points for one lab; remembers each machine's last state to derive events."""

    lab: str
    devices: Mapping[str, str] = field(default_factory=dict)  # kiln -> controller device name
    _last: dict[str, tuple[object, ...]] = field(default_factory=dict)
    _confirmed: dict[str, int] = field(default_factory=dict)  # confirmations seen per caster

    def kiln(self, s: KilnSnapshot) -> tuple[TelemetryPoint, list[Event]]:
        """The kiln's reading point and the events since its previous snapshot."""
        tags = {"lab": self.lab, "machine": s.kiln, "device": self.devices.get(s.kiln, s.kiln)}
        point = TelemetryPoint.make(
            "kiln",
            tags,
            {
                "pv_c": s.pv_c,
                "setpoint_c": s.setpoint_c,
                "working_sp_c": s.working_sp_c,
                "flask_core_c": s.flask_core_c,
                "output_pct": s.output_pct,
                "holdback": int(s.holdback_s > 0),
                "state": s.state,
                "run_id": s.run_id,
                "commissioned": int(s.commissioned),
            },
            wall_s=s.wall,
        )
        now = (s.run_id, s.state, s.segment)
        events = self._kiln_events(s, self._last.get(s.kiln))
        self._last[s.kiln] = now
        return point, events

    def _kiln_events(self, s: KilnSnapshot, before: tuple[object, ...] | None) -> list[Event]:
        if before is None:
            return []
        run_id, state, segment = before
        events: list[Event] = []
        if s.run_id is not None and s.run_id != run_id:
            events.append({"kind": "run_started", "text": f"run {s.run_id}: {s.profile}"})
        elif s.run_id is None and run_id is not None:
            events.append(
                {
                    "kind": "run_ended",
                    "text": f"run {run_id}: {s.outcome}",
                    "outcome": str(s.outcome),
                }
            )
        elif s.run_id is not None and (s.state, s.segment) != (state, segment):
            events.append({"kind": "kiln_state", "text": f"{s.state}: {s.segment}"})
        run = s.run_id if s.run_id is not None else run_id
        return [{**e, "run_id": run} for e in events if isinstance(run, int)]

    def caster(
        self, status: Mapping[str, object], wall_s: float
    ) -> tuple[TelemetryPoint, list[Event]]:
        """The caster's reading point (``CasterSnapshot.as_dict()``) and its new events."""
        name = str(status["caster"])
        point = TelemetryPoint.make(
            "caster",
            {"lab": self.lab, "machine": name},
            {
                "crucible_c": _number(status.get("crucible_c")),
                "crucible_tc_c": _number(status.get("crucible_tc_c")),
                "chamber_mbar": _number(status.get("chamber_mbar")),
                "rpm": _number(status.get("rpm")),
                "lid_closed": _flag(status.get("lid_closed")),
                "flask_present": _flag(status.get("flask_present")),
                "state": str(status.get("state")),
                "cast_id": _number(status.get("cast_id")),
                "commissioned": _flag(status.get("commissioned")),
            },
            wall_s=wall_s,
        )
        confirmations = status.get("confirmations")
        given = list(confirmations) if isinstance(confirmations, list) else []
        now = (status.get("cast_id"), status.get("state"), status.get("outcome"))
        before, seen = self._last.get(name), self._confirmed.get(name, 0)
        self._last[name], self._confirmed[name] = now, len(given)
        events: list[Event] = [
            {"kind": "confirmation", "text": f"{step} confirmed", "who": str(who)}
            for step, who in given[seen:]
        ]
        cast = status.get("cast_id")
        if before is not None and now != before:
            cast_id, state, _ = before
            if cast is None and cast_id is not None:
                outcome = str(status.get("outcome"))
                events.append(
                    {"kind": "cast_ended", "text": f"cast {cast_id}: {outcome}", "outcome": outcome}
                )
                cast = cast_id
            elif status.get("state") != state:
                events.append({"kind": "cast_state", "text": f"{state} -> {status.get('state')}"})
        if isinstance(cast, int):
            events = [{**e, "cast_id": cast} for e in events]
        return point, events

    def alarm(self, alarm: RaisedAlarm) -> tuple[TelemetryPoint, Event]:
        """An alarm's ``event`` point (kind ``alarm``) and MQTT event, at its raise time.

        The alarm id is added in nanoseconds (points are whole microseconds), so two alarms
        of one machine raised at the same instant are two points, and a replay overwrites.
        """
        event: Event = {"kind": "alarm", "text": alarm.text, "source": alarm.source}
        event["alarm_id"] = alarm.id
        if alarm.run_id is not None:
            event["run_id"] = alarm.run_id
        if alarm.cast_id is not None:
            event["cast_id"] = alarm.cast_id
        point = self.event_point(alarm.machine, event, alarm.raised_wall)
        shifted = dataclasses.replace(point, time_ns=point.time_ns + alarm.id % 1000)
        return shifted, {**event, "wall": alarm.raised_wall}

    def event_point(self, machine: str, event: Event, wall_s: float) -> TelemetryPoint:
        """An ``event`` point (HIGH priority: the spool drops readings before these)."""
        kind = str(event["kind"])
        fields = {k: v for k, v in event.items() if k != "kind"}
        return TelemetryPoint.make(
            "event",
            {"lab": self.lab, "machine": machine, "kind": kind},
            fields,
            wall_s=wall_s,
            priority=Priority.HIGH,
        )
