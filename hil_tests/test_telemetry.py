"""The whole daemon's telemetry: InfluxDB outages and a crash lose nothing, MQTT stays right."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiomqtt
import pytest

from hil_tests.support.mqtt_service import example_acl, mosquitto
from hil_tests.support.services import influxdb1, influxql

pytestmark = [pytest.mark.hil, pytest.mark.timeout(180)]


def influx_site(url: str) -> str:
    return (
        f'\n[influx]\nversion = 1\nurl = "{url}"\ndatabase = "labctl"\nbatch_size = 500\n'
        "[telemetry]\nhealth_interval_s = 600\n"
    )


async def stored_kiln_points(url: str, until_ns: int) -> int:
    q = f'SELECT count("state") FROM "kiln" WHERE time <= {until_ns}'
    series = await influxql(url, "labctl", q)
    return int(series[0]["values"][0][1]) if series else 0


async def offered_so_far(rig) -> tuple[int, int]:
    """(kiln points offered so far, the time of the last one in ns), from one status reply."""
    status = await rig.status()
    assert status is not None
    wall = float(status["kilns"][0]["wall"])
    return int(status["telemetry"]["offered"].get("kiln", 0)), round(wall * 1e6) * 1000


async def all_stored(rig, url: str, offered: int, until_ns: int, timeout_s: float = 30) -> None:
    """Wait until InfluxDB holds exactly the ``offered`` kiln points up to ``until_ns``."""
    deadline = time.monotonic() + timeout_s
    while (have := await stored_kiln_points(url, until_ns)) != offered:
        assert have < offered, f"{have} points stored, only {offered} offered: duplicates"
        assert time.monotonic() < deadline, f"{have} of {offered} points in InfluxDB"
        await asyncio.sleep(0.2)


async def test_an_influxdb_outage_mid_burnout_loses_no_point(make_rig, tmp_path):
    async with influxdb1(tmp_path / "influx") as influx:
        rig = await make_rig(extra=influx_site(influx.url))
        await rig.start_daemon()
        assert (await rig.command("start", kiln="kiln1", profile="hil-short"))["ok"]
        await rig.wait_for(lambda s: s["telemetry"].get("sent", 0) > 200, timeout_s=30)
        await influx.stop()  # InfluxDB goes away for a stretch of the run
        await rig.wait_for(lambda s: s["telemetry"]["spool_depth"] > 500, timeout_s=30)
        await influx.start()
        await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=60)
        assert (await rig.command("take_flask", kiln="kiln1"))["ok"]
        assert await rig.wait_outcome() == "completed"
        offered, until_ns = await offered_so_far(rig)
        await all_stored(rig, influx.url, offered, until_ns)
        q = 'SELECT "text" FROM "event" WHERE "kind" = \'run_ended\''
        runs = await influxql(influx.url, "labctl", q)
        assert any("completed" in row[1] for row in runs[0]["values"]), runs


async def test_a_crash_mid_drain_replays_every_spooled_point_once(make_rig, tmp_path):
    async with influxdb1(tmp_path / "influx") as influx:
        rig = await make_rig(extra=influx_site(influx.url))
        await rig.start_daemon()
        assert (await rig.command("start", kiln="kiln1", profile="hil-short"))["ok"]
        await influx.stop()
        await rig.wait_for(lambda s: s["telemetry"]["spool_on_disk"] > 1000, timeout_s=30)
        offered, until_ns = await offered_so_far(rig)
        await asyncio.sleep(0.5)  # > the spool's flush interval: those points are on disk
        await rig.kill_daemon()  # SIGKILL with a backlog on disk
        await influx.start()
        await rig.start_daemon()
        await all_stored(rig, influx.url, offered, until_ns)  # all of them, each once


async def test_mqtt_state_is_right_after_a_broker_restart_and_bad_commands_change_nothing(
    make_rig, tmp_path
):
    acl = example_acl().replace("labctl-studio", "labctl").replace("studio", "hil")
    acl = acl.replace("user alice", "user ana").replace("/alice", "/ana")
    users = {"labctl": "pw1", "ana": "pw2"}
    async with mosquitto(tmp_path / "mqtt", users=users, acl=acl) as broker:
        secret = tmp_path / "mqtt.secret"
        secret.write_text("pw1\n")
        rig = await make_rig(
            extra=(
                f'\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nusername = "labctl"\n'
                f'password_file = "{secret}"\ntelemetry_interval_s = 1\n'
                '[users.ana]\nrole = "observer"\n'
            )
        )
        await rig.start_daemon()
        await rig.wait_for(lambda s: s["telemetry"]["mqtt_connected"], timeout_s=20)
        await broker.stop()
        assert (await rig.command("start", kiln="kiln1", profile="hil-short"))["ok"]
        await rig.wait_for(lambda s: s["kilns"][0]["state"] == "running", timeout_s=20)
        await broker.start()
        await rig.wait_for(lambda s: s["telemetry"]["mqtt_connected"], timeout_s=30)
        async with aiomqtt.Client("127.0.0.1", broker.port, username="ana", password="pw2") as c:
            await c.subscribe("labctl/hil/state/kiln1")
            await c.subscribe("labctl/hil/reply/ana")
            state = await _next(c, "labctl/hil/state/kiln1")
            assert state["state"] in ("running", "final_hold") and state["run_id"] is not None
            cases: list[tuple[object, str]] = [
                ("not json", "JSON"),
                ({"id": "1", "command": "abort", "args": {"kiln": "kiln1"}}, "needs a technician"),
                ({"id": "2", "command": "status", "args": {"oven": 1}}, "oven"),
            ]
            for request, reason in cases:
                payload = request if isinstance(request, str) else json.dumps(request)
                await c.publish("labctl/hil/cmd/ana", payload, qos=1)
                reply = await _next(c, "labctl/hil/reply/ana")
                assert reply["ok"] is False and reason in reply["error"], reply
        kiln = await rig.kiln()
        assert kiln["state"] in ("running", "final_hold"), kiln  # nothing was aborted


async def _next(client: aiomqtt.Client, topic: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        async for message in client.messages:
            if message.topic.matches(topic):
                assert isinstance(message.payload, bytes)
                return dict(json.loads(message.payload))
    raise AssertionError("no message")
