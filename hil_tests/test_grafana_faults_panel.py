"""An injected trip, end to end: the real daemon's alarm on the Faults dashboard's panel.

The daemon writes to a real InfluxDB 1.x; a thermocouple opened in the simulator trips two runs
alike, and the "Faults, alarms and outcomes" panel's query (as Grafana fills it in) returns both
alarms, each with its machine, run id and text.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hil_tests.support.grafana import DB, Influx, faults_panel_query, grafana_macros
from hil_tests.support.services import influxdb1

pytestmark = [pytest.mark.hil, pytest.mark.asyncio(loop_scope="module")]


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
