"""The touchscreen server's routes over real sockets: commands, the live websocket, series.

Commands go through a real CommandRegistry (the ``lab`` fixture in conftest.py); the live state
is a real LabView over a fake kiln runner.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from labctl.commands.registry import Caller, CommandRefused
from labctl.config.users import Role

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Lab, Serve

WAIT_S = 10.0  # generous: the machine is shared

# ---------------------------------------------------------------- commands


async def test_a_command_runs_for_the_signed_in_person(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    resp = await served.command("hold", {"kiln": "kiln1"}, csrf)
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "result": {"kiln": "kiln1", "held_by": "ana"}}
    assert lab.calls == [("hold", "kiln1", "ana")]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_a_technician_is_refused_a_supervisor_command(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    with pytest.raises(CommandRefused) as expected:  # the registry's own words
        await lab.registry.dispatch("calibrate", {"kiln": "kiln1"}, Caller("ana", Role.TECHNICIAN))
    resp = await served.command("calibrate", {"kiln": "kiln1"}, csrf)
    reason = await served.refusal(resp, 403)
    assert reason == expected.value.reason
    assert "supervisor" in reason
    assert lab.calls == []
    boss = await served.sign_in("2002", "1357")
    assert (await served.command("calibrate", {"kiln": "kiln1"}, boss)).status == 200
    assert lab.calls == [("calibrate", "kiln1", "ben")]


async def test_refused_by_state_or_payload_is_409_with_the_reason(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    reason = await served.refusal(await served.command("hold", {"kiln": "kiln1"}, csrf), 409)
    assert reason == "kiln1 is not running; nothing to hold"
    resp = await served.command("hold", {"kiln": "kiln1", "x": 1}, csrf)
    reason = await served.refusal(resp, 409)
    assert reason.startswith("hold: ") and "x" in reason
    reason = await served.refusal(await served.command("no_such", {}, csrf), 409)
    assert "unknown command 'no_such'" in reason
    assert lab.calls == []


@pytest.mark.parametrize("body", ["{not json", "[]", '"text"', ""])
async def test_a_payload_that_is_not_a_json_object_is_400(
    serve: Serve, lab: Lab, body: str
) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    resp = await served.client.post(
        "/api/command/hold", data=body, headers={"X-CSRF-Token": csrf, "Origin": served.origin}
    )
    assert "not a JSON object" in await served.refusal(resp, 400)
    assert lab.calls == []


# ---------------------------------------------------------------- websocket and series


async def test_the_websocket_sends_the_lab_and_refuses_other_origins(serve: Serve) -> None:
    served = await serve()
    with pytest.raises(WSServerHandshakeError) as refused:
        await served.client.ws_connect("/ws", origin="http://evil.example")
    assert refused.value.status == 403
    async with served.client.ws_connect("/ws", origin=served.origin) as ws:  # anonymous: loopback
        full = await asyncio.wait_for(ws.receive_json(), WAIT_S)
    assert full["type"] == "full"
    assert full["state"]["lab"] == "test lab"
    assert full["state"]["kilns"]["kiln1"]["pv_c"] == 20.0


@pytest.mark.parametrize(
    "ui",
    [
        {"view_without_signin": False},
        {"host": "0.0.0.0", "behind_proxy": True},  # off loopback: never anonymous
    ],
)
async def test_without_anonymous_view_live_data_needs_a_session(
    serve: Serve, lab: Lab, ui: dict[str, Any]
) -> None:
    served = await serve(**ui)
    client = served.client
    assert (await served.session())["view_without_signin"] is False
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin=served.origin)
    assert refused.value.status == 401
    await served.refusal(await client.get("/api/kiln/kiln1/series"), 401)

    csrf = await served.sign_in()
    for wall, pv in ((1e9, 20.0), (1e9 + 60, 25.0)):
        served.view.add_point(
            dataclasses.replace(lab.kiln.snapshot, wall=wall, pv_c=pv, setpoint_c=30)
        )
    series = await (await client.get("/api/kiln/kiln1/series")).json()
    assert series == {"t": [1e9, 1e9 + 60], "sp": [30, 30], "pv": [20.0, 25.0], "core": [None] * 2}

    async with client.ws_connect("/ws", origin=served.origin) as ws:
        assert (await asyncio.wait_for(ws.receive_json(), WAIT_S))["type"] == "full"
        await client.post("/api/signout", headers={"X-CSRF-Token": csrf})
        lab.set_state("running")
        served.push.poke()
        message = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert message.type in {WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING}, message


async def test_with_anonymous_view_the_websocket_gets_patches(serve: Serve, lab: Lab) -> None:
    served = await serve()
    async with served.client.ws_connect("/ws", origin=served.origin) as ws:
        await asyncio.wait_for(ws.receive_json(), WAIT_S)
        lab.set_state("running", pv_c=21.0)
        served.push.poke()
        patch = await asyncio.wait_for(ws.receive_json(), WAIT_S)
    assert patch["type"] == "patch"
    assert sorted(patch["set"]) == [
        [["kilns", "kiln1", "pv_c"], 21.0],
        [["kilns", "kiln1", "state"], "running"],
    ]
    assert patch["unset"] == []


async def test_a_series_of_a_kiln_that_does_not_exist_is_404(serve: Serve) -> None:
    served = await serve()
    resp = await served.client.get("/api/kiln/kiln2/series")
    assert "kiln2" in await served.refusal(resp, 404)
