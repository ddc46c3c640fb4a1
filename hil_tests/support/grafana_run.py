"""A simulated lab's telemetry for the Grafana dashboards' queries to run on.

A short burnout of kiln1 with a holdback episode (a weak heater on the first ramp), a vacuum cast
on caster1 and a centrifugal cast on spin1, a link fault on kiln2, two alarms and labctl's health
points (a stuck InfluxDB writer fills the spool); every point made by :class:`PointMaker` as the
daemon makes it, and written as ``influxdb_client.Point`` writes it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

from influxdb_client.client.write.point import Point

from labctl.alarms import Alarm
from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.points import FieldValue, TelemetryPoint
from labctl.telemetry.snapshots import PointMaker

EPOCH = 1_767_225_600.0  # 2026-01-01 00:00 UTC: the simulated run starts here
# program time (s) -> setpoint: ramp to 300 at 600 C/h, hold 20 min, ramp to 500, final hold
PROGRAM = [(0.0, 20.0), (1680.0, 300.0), (2880.0, 300.0), (4080.0, 500.0)]


def _program_sp(t: float) -> tuple[int, float, float]:
    """Segment index, its target and the program setpoint at program time ``t``."""
    for seg, ((t0, c0), (t1, c1)) in enumerate(itertools.pairwise(PROGRAM)):
        if t < t1:
            return seg, c1, c0 + (c1 - c0) * (t - t0) / (t1 - t0)
    return len(PROGRAM) - 1, PROGRAM[-1][1], PROGRAM[-1][1]


def _kiln_run(maker: PointMaker) -> Iterator[tuple[TelemetryPoint, list[dict[str, Any]]]]:
    """kiln1 every 30 s: idle, run 7 (a weak heater forces holdback on the first ramp), end."""
    pv, clock = 20.0, 0.0
    for i in range(200):
        running = 10 <= i < 190
        seg, target, sp = _program_sp(clock)
        weak = 25 <= i < 45
        pv += (sp - pv) * (0.05 if weak else 0.5)
        holdback = running and sp - pv > 25  # the program clock waits for the PV
        clock += 30 if running and not holdback else 0
        state = ("final_hold" if seg == len(PROGRAM) - 1 else "running") if running else "idle"
        snap = KilnSnapshot(
            kiln="kiln1", at=30.0 * i, wall=EPOCH + 30 * i, link="ok", state=state,
            run_id=7 if running else None, profile="hil-short" if running else None,
            segment=f"segment {seg + 1}" if running else "", setpoint_c=target if running else None,
            pv_c=round(pv, 2), working_sp_c=round(sp, 2) if running else None,
            output_pct=100.0 if weak else max(0.0, min(100.0, 20 + 4 * (sp - pv))),
            holdback_s=30.0 if holdback else 0.0, outcome="completed" if i >= 190 else None,
            outcome_run_id=7 if i >= 190 else None,
        )  # fmt: skip
        yield maker.kiln(snap)


def _status(caster: str, kind: str, state: str, cast_id: int | None, **obs: Any) -> dict[str, Any]:
    """The shape of ``CasterSnapshot.as_dict()``."""
    return {
        "caster": caster, "kind": kind, "state": state, "cast_id": cast_id, "alloy": "silver-925",
        "waiting_for": None, "crucible_c": None, "crucible_tc_c": None, "chamber_mbar": None,
        "rpm": None, "lid_closed": True, "flask_present": False, "stale": [], "safe": True,
        "outcome": None, **obs,
    }  # fmt: skip


STEPS = {
    "vacuum": [("flask_transfer", 30), ("evacuate", 40), ("pour", 6), ("vacuum_hold", 120),
               ("vent", 16)],
    "centrifugal": [("balance", 30), ("spin_up", 20), ("spin_hold", 60), ("brake", 20),
                    ("lid_release", 10)],
}  # fmt: skip


def _cast(
    maker: PointMaker, caster: str, kind: str, cast_id: int, start: float
) -> Iterator[tuple[float, tuple[TelemetryPoint, list[dict[str, Any]]]]]:
    """One cast every 2 s: idle, preflight, melt, the kind's steps, complete, idle again."""
    plan = [("idle", 60), ("preflight", 10), ("melt", 300), *STEPS[kind], ("complete", 6)]
    t = 0.0
    for n, (state, duration) in enumerate([*plan, ("idle", 60)]):
        for k in range(0, duration, 2):
            crucible = 25 + 1000 * min(1.0, max(0.0, (t - 70) / 300))  # melts from t = 70 s
            obs: dict[str, Any] = {"crucible_c": crucible, "crucible_tc_c": crucible - 6.5}
            if kind == "vacuum":
                pumped = {"evacuate": 2 + 1011 * math.exp(-k / 6), "pour": 2.0, "vacuum_hold": 2.0}
                obs["chamber_mbar"] = pumped.get(state, 1013.0)
            else:
                spin = {"spin_up": 22.0 * k, "spin_hold": 440.0, "brake": 440 - 22.0 * k}
                obs["rpm"] = spin.get(state, 0.0)
            status = _status(
                caster, kind, state, None if state == "idle" else cast_id,
                flask_present=state not in {"idle", "preflight", "melt"},
                outcome="completed" if state == "idle" and n > 0 else None, **obs,
            )  # fmt: skip
            yield start + t, maker.caster(status, start + t)
            t += 2


def _health(i: int) -> dict[str, dict[str, FieldValue | None]]:
    """labctl's own fields at 10 s step ``i``; the InfluxDB writer is stuck from step 120 to
    240, so the spool fills and drops points (counters are cumulative, like the bus's)."""
    stuck = 120 <= i < 240
    return {
        "spool": {
            "spool_depth": 40 + 350 * (i - 120) if stuck else 40,
            "oldest_unsent_s": 10.0 * (i - 120) + 5 if stuck else 2.5,
            "dropped_points": min(40, max(0, i - 200)),
        },
        "bus.link": {"transactions": 3 * i, "errors": i // 100},
        "control": {"tick_lateness_ms": 1.5 + (i % 7) * 0.4},
    }


def simulated_run() -> list[TelemetryPoint]:
    """Readings, events (as the daemon derives them) and health points of one lab."""
    maker = PointMaker(lab="lab1", devices={"kiln1": "kiln1_tc", "kiln2": "kiln2_tc"})
    points: list[TelemetryPoint] = []
    for point, events in _kiln_run(maker):
        wall = point.time_ns / 1e9
        idle = KilnSnapshot(kiln="kiln2", at=0, wall=wall, link="ok", state="idle", pv_c=21.5)
        points += [point, maker.kiln(idle)[0]]
        points += [maker.event_point("kiln1", e, wall) for e in events]
    for caster, kind, cast_id, start in [
        ("caster1", "vacuum", 42, EPOCH + 3600),
        ("spin1", "centrifugal", 43, EPOCH + 5400),
    ]:
        for wall, (point, events) in _cast(maker, caster, kind, cast_id, start):
            points += [point, *(maker.event_point(caster, e, wall) for e in events)]
    points.append(maker.event_point("kiln2", {"kind": "fault", "text": "link lost"}, EPOCH + 900))
    link = Alarm(1, "kiln1.link", "controller link lost", EPOCH + 1200, run_id=7)
    cast = Alarm(2, "caster1", "cast 42: faulted: e-stop pressed", EPOCH + 3900, cast_id=42)
    points += [maker.alarm(link)[0], maker.alarm(cast)[0]]
    for i in range(800):
        for component, fields in _health(i).items():
            tags = {"lab": "lab1", "component": component}
            points.append(TelemetryPoint.make("labctl", tags, fields, wall_s=EPOCH + 10 * i))
    return points


def line_protocol(p: TelemetryPoint) -> str:
    """The line for one point, built by influxdb-client."""
    record = {"measurement": p.measurement, "tags": dict(p.tags), "fields": dict(p.fields)}
    point = Point.from_dict({**record, "time": p.time_ns})  # default precision: ns
    return str(point.to_line_protocol())
