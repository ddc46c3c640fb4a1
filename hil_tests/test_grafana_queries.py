"""Every query of every Grafana dashboard runs on a real InfluxDB 1.x and returns data.

A simulated run (a short burnout with a holdback episode, a vacuum cast and a centrifugal cast,
and labctl's health points) goes through :class:`PointMaker` and ``influxdb_client.Point`` into
Debian's InfluxDB 1.6; then each panel target, template variable and annotation query from the
JSON files runs with Grafana's macros filled in the way Grafana fills them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from influxdb_client.client.write.point import Point

from hil_tests.support.services import influxdb1
from labctl.alarms import Alarm
from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.points import FieldValue, TelemetryPoint
from labctl.telemetry.snapshots import PointMaker

pytestmark = [pytest.mark.hil, pytest.mark.asyncio(loop_scope="module")]

DASHBOARDS = Path(__file__).resolve().parent.parent / "grafana" / "dashboards"
DATASOURCE_UID = "labctl-influxdb"
DB = "labctl"
EPOCH = 1_767_225_600.0  # 2026-01-01 00:00 UTC: the simulated run starts here
# Variable values Grafana would offer: one binding per cast (a vacuum and a centrifugal caster)
BINDINGS = [
    {"lab": "lab1", "kiln": "kiln1", "caster": "caster1", "cast": "42"},
    {"lab": "lab1", "kiln": "kiln1", "caster": "spin1", "cast": "43"},
]

# ---------------------------------------------------------------- the simulated run

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


# ---------------------------------------------------------------- the dashboards' queries


def dashboard_queries() -> Iterator[Any]:
    """One pytest param per query (kind, the JSON object holding it), id ``dashboard/what``."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for var in dash["templating"]["list"]:
            yield pytest.param(var["name"], var, id=f"{path.stem}/variable {var['name']}")
        for note in dash["annotations"]["list"]:
            if not note.get("builtIn"):
                yield pytest.param("annotation", note, id=f"{path.stem}/annotation {note['name']}")
        rows = [p for row in dash["panels"] for p in row.get("panels", [])]  # collapsed rows
        for panel in [*dash["panels"], *rows]:
            for target in panel.get("targets", []):
                what = f"{path.stem}/{panel['title']}/{target['refId']}"
                yield pytest.param("panel", target, id=what)


def grafana_macros(query: str, binding: dict[str, str], start_s: float, end_s: float) -> str:
    """The query as Grafana sends it: ``$timeFilter``, ``$__interval`` and ``$var`` replaced
    (single-value variables are inserted as they are, inside ``/^$var$/`` too)."""
    values = {
        **binding,
        "timeFilter": f"time >= {int(start_s * 1000)}ms and time <= {int(end_s * 1000)}ms",
        "__interval": "10s",
    }

    def value(m: re.Match[str]) -> str:
        assert m[1] in values, f"unknown macro or variable ${m[1]} in {query}"
        return values[m[1]]

    return re.sub(r"\$(\w+)", value, query)


# ---------------------------------------------------------------- the server


@dataclass(frozen=True)
class Influx:
    """The loaded server and the time range the data covers."""

    url: str
    start_s: float
    end_s: float

    async def query(self, q: str) -> list[dict[str, Any]]:
        """GET /query (as Grafana does); fails with the server's error and the query."""
        params = {"db": DB, "q": q, "epoch": "ms"}
        async with aiohttp.ClientSession() as s, s.get(self.url + "/query", params=params) as r:
            body = await r.json()
        assert r.status == 200 and "error" not in body, (q, body)
        result = body["results"][0]
        assert "error" not in result, f"{result['error']}\n{q}"
        series: list[dict[str, Any]] = result.get("series", [])
        return series


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def influx(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Influx]:
    points = simulated_run()
    async with influxdb1(tmp_path_factory.mktemp("influxdb")) as server:
        create = {"q": f"CREATE DATABASE {DB}"}
        async with aiohttp.ClientSession() as s, s.post(server.url + "/query", params=create) as r:
            assert r.status == 200, await r.text()
            body = "\n".join(line_protocol(p) for p in points)
            params = {"db": DB, "precision": "ns"}
            async with s.post(server.url + "/write", params=params, data=body.encode()) as r:
                assert r.status == 204, await r.text()
        times = [p.time_ns / 1e9 for p in points]
        yield Influx(server.url, min(times) - 60, max(times) + 60)


async def test_the_simulated_run_is_all_there(influx: Influx) -> None:
    """The data the queries run on: every event kind, a holdback episode, both casts."""
    rows = await influx.query('SELECT count("text") FROM "event" GROUP BY "kind"')
    kinds = {s["tags"]["kind"] for s in rows}
    expected = {"run_started", "run_ended", "kiln_state", "alarm", "cast_state", "cast_ended"}
    assert kinds == expected | {"fault"}, kinds
    held = await influx.query('SELECT sum("holdback") FROM "kiln" WHERE "machine" = \'kiln1\'')
    assert held[0]["values"][0][1] >= 3, "the run must have a holdback episode"
    casts = await influx.query('SELECT DISTINCT("cast_id") FROM "caster"')
    assert [row[1] for row in casts[0]["values"]] == [42, 43]


@pytest.mark.parametrize(("kind", "item"), list(dashboard_queries()))
async def test_query_returns_series(influx: Influx, kind: str, item: dict[str, Any]) -> None:
    """Every binding runs without error; at least one (the right caster) returns values."""
    assert item["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}, item
    assert kind not in ("panel", "annotation") or item["rawQuery"] is True, "InfluxQL, raw"
    assert kind != "annotation" or item["target"]["query"] == item["query"], "one query"
    with_values = 0
    for binding in BINDINGS:
        q = grafana_macros(item["query"], binding, influx.start_s, influx.end_s)
        series = await influx.query(q)
        rows = [row for s in series for row in s["values"]]
        if any(v is not None for row in rows for v in row[1:]):
            with_values += 1
        if kind in binding:  # a template variable offers the value the other queries use
            offered = {str(row[-1]) for row in rows}
            assert binding[kind] in offered, (q, offered)
    assert with_values, f"no series with values for any of {BINDINGS}:\n{item['query']}"


# ---------------------------------------------------------------- an injected trip, end to end


def faults_panel_query() -> str:
    dash = json.loads((DASHBOARDS / "faults-health.json").read_text())
    panel = next(p for p in dash["panels"] if p["title"] == "Faults, alarms and outcomes")
    return str(panel["targets"][0]["query"])


async def start_run(rig: Any) -> dict[str, Any]:
    """``start``, again while the controller's reading is still the broken one."""
    for _ in range(50):
        reply = await rig.command("start", kiln="kiln1", profile="hil-short", cool_first=True)
        if reply["ok"] or "no valid temperature" not in reply["error"]:
            break
        await asyncio.sleep(0.1)
    assert reply["ok"], reply
    return dict(reply)


@pytest.mark.asyncio(loop_scope="function")
@pytest.mark.timeout(180)
async def test_the_faults_panel_shows_each_injected_trip_as_its_alarm(make_rig, tmp_path):
    """The real daemon, two runs tripped alike (thermocouple opened in the simulator): the
    faults panel's query returns both alarms, each with its machine, run id and text."""
    async with influxdb1(tmp_path / "influx") as server:
        site = f'\n[influx]\nversion = 1\nurl = "{server.url}"\ndatabase = "{DB}"\n'
        create = {"q": f"CREATE DATABASE {DB}"}
        async with aiohttp.ClientSession() as s, s.post(server.url + "/query", params=create) as r:
            assert r.status == 200, await r.text()
        rig = await make_rig(extra=site)
        start = rig.clock.wall()
        await rig.start_daemon()
        tripped: list[tuple[int, str]] = []
        for _ in range(2):
            reply = await start_run(rig)
            await rig.wait_for(lambda s: s["kilns"][0]["state"] == "running", timeout_s=20)
            rig.sim.backdoor.open_thermocouple(True)
            try:
                tripped.append((reply["result"]["run_id"], await rig.wait_outcome()))
            finally:
                rig.sim.backdoor.open_thermocouple(False)
        (first, outcome), (second, again) = tripped
        assert outcome == again and "sensor break" in outcome, tripped  # the same text twice
        expected = [("kiln1", run, f"run {run}: {outcome}") for run in (second, first)]
        query = faults_panel_query()
        influx, rows = Influx(server.url, start, rig.clock.wall() + 60), []
        for _ in range(100):  # the spool drains to InfluxDB within a few seconds
            q = grafana_macros(query, {"lab": "hil"}, influx.start_s, influx.end_s)
            series = await influx.query(q)
            rows = [dict(zip(s["columns"], v, strict=True)) for s in series for v in s["values"]]
            alarms = [r for r in rows if r["kind"] == "alarm" and r["source"] == "kiln1"]
            if [(r["machine"], r["run_id"], r["text"]) for r in alarms] == expected:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"faults panel: {rows}, expected alarms {expected}")
