"""Telemetry points: what labctl writes to InfluxDB, as plain frozen data (no I/O).

Measurements and tags are designed for low cardinality (README, "Telemetry"):

- ``kiln``   tags ``lab, machine, device``; fields ``pv_c, setpoint_c, working_sp_c,
  flask_core_c`` (a flask thermocouple, when fitted), ``output_pct, holdback`` (1 while the
  program clock waits), ``state`` (string), ``run_id``, ``commissioned`` (0 while a device
  of the kiln holds no passing commissioning record for the current config).
- ``caster`` tags ``lab, machine``; fields ``crucible_c, crucible_tc_c, chamber_mbar, rpm,
  lid_closed, flask_present, commissioned`` (0/1), ``state`` (string), ``cast_id``.
- ``event``  tags ``lab, machine, kind`` (run_started, run_ended, kiln_state, cast_state,
  cast_ended, confirmation, alarm, fault); fields ``text``, ``who``, ``outcome``, ``run_id``
  (kiln events), ``cast_id`` (caster events); an ``alarm`` also has ``source`` (``kiln1.link``)
  and ``alarm_id``, and ``run_id`` or ``cast_id`` when it belongs to a run or cast (``machine``
  is ``lab`` for a lab-wide alarm).
- ``labctl`` tags ``lab, component``; fields such as ``spool_depth, oldest_unsent_s,
  dropped_points, transactions, errors, tick_lateness_ms``.

A point's time is the clock's wall time of the snapshot it came from, in whole nanoseconds,
so writing the same point again (a replay after a crash) overwrites it instead of adding one.
Run and cast ids are fields, not tags: a tag per run would grow the series count forever.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass

FieldValue = float | int | str | bool
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class Priority(enum.IntEnum):
    """At the spool's bound, LOW points are dropped first (oldest first)."""

    LOW = 0  # periodic readings: the next tick brings another
    HIGH = 1  # events and outcomes: dropped only when nothing else is left


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """One InfluxDB point; ``tags`` and ``fields`` are sorted (name, value) pairs."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    time_ns: int
    priority: Priority = Priority.LOW

    @classmethod
    def make(
        cls,
        measurement: str,
        tags: Mapping[str, str],
        fields: Mapping[str, FieldValue | None],
        *,
        wall_s: float,
        priority: Priority = Priority.LOW,
    ) -> TelemetryPoint:
        """A point at ``wall_s`` (Unix seconds); None fields are left out (no value read)."""
        kept = {name: value for name, value in fields.items() if value is not None}
        if not kept:
            raise ValueError(f"{measurement}: a point needs at least one field")
        return cls(
            measurement=measurement,
            tags=tuple(sorted(tags.items())),
            fields=tuple(sorted(kept.items())),
            time_ns=round(wall_s * 1e6) * 1000,  # microsecond steps: stable across float noise
            priority=priority,
        )

    def to_json(self) -> str:
        """Compact JSON for the spool."""
        return _ENCODER.encode(
            [self.measurement, self.tags, self.fields, self.time_ns, int(self.priority)]
        )

    @classmethod
    def from_json(cls, text: str) -> TelemetryPoint:
        measurement, tags, fields, time_ns, priority = json.loads(text)
        return cls(
            measurement=measurement,
            tags=tuple((str(k), str(v)) for k, v in tags),
            fields=tuple((str(k), v) for k, v in fields),
            time_ns=int(time_ns),
            priority=Priority(priority),
        )
