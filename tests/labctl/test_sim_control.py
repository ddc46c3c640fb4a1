"""The rig's control API and its client, against real simulator objects (not served on a wire)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from drivers._sim.backdoor import AsciiBackdoor
from drivers._sim.caster_rig import CasterEndpoints, CasterRigSim
from drivers._sim.server import Endpoint
from drivers.clock import VirtualClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from labctl.cli import main
from labctl.errors import ConfigError
from labctl.sim import control as sim_control
from labctl.sim.actions import Action, backdoor_actions
from labctl.sim.command import load_rig
from labctl.sim.control import MAX_BODY, ControlApi, ControlApiError, serving_control
from labctl.sim.devices import RigDevice, caster_devices, kiln_device

Client = TestClient[web.Request, web.Application]


class Sims:
    """A kiln controller, a vacuum and a centrifugal caster, addressed as the rig names them."""

    def __init__(self) -> None:
        self.kiln = Eurotherm3200Sim()
        self.vac = CasterRigSim("vacuum")
        self.spin = CasterRigSim("centrifugal")
        tc, gauge = Path("/run/rig/tc"), Path("/run/rig/gauge")
        vac_ep = CasterEndpoints("vacuum", Endpoint(port=5030), Endpoint(port=5031), tc, gauge)
        spin_ep = CasterEndpoints(
            "centrifugal", Endpoint(port=5040), Endpoint(port=5041), tc, drive=Endpoint(port=5042)
        )
        self.devices: dict[str, RigDevice] = {
            "kiln1_tc": kiln_device(self.kiln, Endpoint(port=5020)),
            **caster_devices("vac", self.vac, vac_ep),
            **caster_devices("spin", self.spin, spin_ep),
        }


@pytest.fixture
def sims() -> Sims:
    return Sims()


@pytest.fixture
async def client(sims: Sims) -> AsyncIterator[Client]:
    async with TestClient(TestServer(ControlApi(sims.devices, VirtualClock()).app())) as c:
        yield c


async def call(client: Client, path: str, body: object = None) -> tuple[int, dict[str, Any]]:
    if body is None:
        resp = await client.get(path)
    else:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = await client.post(path, data=data)
    return resp.status, await resp.json()


async def test_the_rig_shows_every_device_with_what_its_simulator_holds(client, sims):
    status, rig = await call(client, "/v1/rig")
    assert status == 200 and rig["ok"] and rig["speed"] == 1.0
    devices = rig["devices"]
    assert set(devices) == set(sims.devices)
    assert {"vac.gauge", "spin.drive"} <= set(devices) and "vac.drive" not in devices
    kiln = devices["kiln1_tc"]
    assert kiln["endpoint"] == {"tcp_port": 5020, "pty": None}
    assert kiln["state"]["pv_c"] == sims.kiln.pv_c and kiln["faults"]["thermocouple_open"] is False
    assert devices["vac.gauge"]["endpoint"] == {"tcp_port": None, "pty": "/run/rig/gauge"}
    assert devices["vac"]["state"]["chamber_mbar"] == sims.vac.chamber.chamber_mbar
    assert devices["vac.io"]["state"]["coils"]["vent_valve"] is sims.vac.io.coils.vent_valve
    assert devices["spin"]["state"]["rpm"] == 0 and "chamber_mbar" not in devices["spin"]["state"]


async def test_a_person_places_the_flask_presses_the_estop_and_opens_the_lid(client, sims):
    io = sims.vac.io
    status, reply = await call(client, "/v1/devices/vac/place_flask", {})
    assert status == 200 and reply["state"]["flask_present"] is True and io.flask_present
    for action, attr, value in [
        ("press_estop", "estop_ok", False),
        ("release_estop", "estop_ok", True),
        ("open_lid", "lid_closed", False),
        ("close_lid", "lid_closed", True),
        ("remove_flask", "flask_present", False),
    ]:
        status, reply = await call(client, f"/v1/devices/vac/{action}", b"")
        assert status == 200 and getattr(io, attr) is value, action
        assert reply["state"][attr] is value


@pytest.mark.parametrize(
    ("device", "action", "args", "check"),
    [
        ("kiln1_tc", "open_thermocouple", {}, lambda s: s.kiln.backdoor.thermocouple_open),
        ("kiln1_tc", "slow_replies", {"delay_s": 2}, lambda s: s.kiln.backdoor.faults.delay_s == 2),
        ("vac", "leak", {"mbar_l_per_s": 5.5}, lambda s: s.vac.chamber.leak_mbar_l_per_s == 5.5),
        ("vac.crucible", "ad_converter_error", {}, lambda s: s.vac.crucible.backdoor.ad_error),
        ("vac.io", "fail_pump", {"on": True}, lambda s: s.vac.io.backdoor.pump_failed),
        ("vac.tc", "open_wire", {"channel": 0}, lambda s: s.vac.tc.backdoor.open_channels == {0}),
        ("vac.tc", "garble", {}, lambda s: s.vac.tc.backdoor.faults.garble),
        ("vac.gauge", "sensor_error", {}, lambda s: s.vac.gauge.status(1).text == "sensor error"),
        ("spin.drive", "drive_fault", {"code": 7}, lambda s: s.spin.drive.trip_code == 7),
        ("spin.io", "comms_loss", {}, lambda s: s.spin.io.backdoor.faults.link_down),
    ],
)
async def test_each_fault_reaches_the_simulator(client, sims, device, action, args, check):
    status, reply = await call(client, f"/v1/devices/{device}/{action}", args)
    assert status == 200 and reply["args"] == args, reply
    assert check(sims)


async def test_a_fault_is_undone_with_on_false_and_shows_in_the_state(client, sims):
    _, on = await call(client, "/v1/devices/vac.crucible/stick_relay", {})
    assert on["faults"]["relay_stuck"] is True and sims.vac.crucible.backdoor.relay_stuck
    _, off = await call(client, "/v1/devices/vac.crucible/stick_relay", {"on": False})
    assert off["faults"]["relay_stuck"] is False and not sims.vac.crucible.backdoor.relay_stuck
    _, tripped = await call(client, "/v1/devices/spin.drive/drive_fault", {"code": 3})
    assert tripped["state"]["trip_code"] == 3
    _, broken = await call(client, "/v1/devices/vac.tc/open_wire", {"channel": 0})
    assert broken["state"]["channels"][0] == "+9999.9" and broken["faults"]["open_channels"] == [0]


async def test_every_backdoor_method_is_an_action_and_queries_are_not(client, sims):
    _, catalogue = await call(client, "/v1/actions")
    gauge = catalogue["actions"]["vac.gauge"]
    assert "sensor_error" in gauge and "forced_status" not in gauge  # a query returns a value
    channel = {"type": "integer", "required": False, "default": 1}
    assert gauge["sensor_error"]["args"]["channel"] == channel
    assert (
        "reboot" in catalogue["actions"]["vac.io"]
        and "garble" not in catalogue["actions"]["vac.io"]
    )

    class Newer(AsciiBackdoor):
        def kink_cable(self, severity: float, *, on: bool = True) -> None:
            """A kinked cable: a new fault, listed nowhere else."""

    for device in catalogue["actions"].values():  # the module's table documents each one
        assert all(f"``{name}``" in sim_control.__doc__ for name in device), device
    actions = backdoor_actions(Newer())
    assert actions["kink_cable"].describe() == {
        "doc": "A kinked cable: a new fault, listed nowhere else.",
        "args": {
            "severity": {"type": "number", "required": True},
            "on": {"type": "boolean", "required": False, "default": True},
        },
    }
    assert set(actions) == {"kink_cable", "comms_loss", "silent", "slow_replies", "garble"}


D = "/v1/devices"


@pytest.mark.parametrize(
    ("path", "body", "status", "reason"),
    [
        (f"{D}/kiln9/reboot", {}, 404, "no device 'kiln9' on this rig (devices: kiln1_tc, vac,"),
        (f"{D}/vac/explode", {}, 404, "vac has no action 'explode' (actions: close_lid, leak,"),
        (f"{D}/vac.tc/open_wire", {}, 400, "open_wire needs channel (an integer)"),
        (f"{D}/vac.tc/open_wire", {"channel": 1.5}, 400, "channel must be an integer, got 1.5"),
        (f"{D}/vac.tc/open_wire", {"channel": True}, 400, "channel must be an integer, got true"),
        (f"{D}/vac/leak", {"mbar_l_per_s": -1}, 400, "mbar_l_per_s must be within 0..65535"),
        (f"{D}/vac/leak", {"mbar_l_per_s": "5"}, 400, 'must be a number, got "5"'),
        (f"{D}/vac.io/press_estop", {"on": 1}, 400, "on must be true or false, got 1"),
        (f"{D}/vac/place_flask", {"now": 1}, 400, "place_flask has no argument now (takes: no"),
        (f"{D}/vac/leak", b"{not json", 400, "not JSON"),
        (f"{D}/vac/leak", b"[1]", 400, "a JSON list, not an object"),
        (f"{D}/vac/leak", b" " * (MAX_BODY + 1), 413, "Maximum request body size"),
        ("/v1/nothing", None, 404, "Not Found"),
    ],
)
async def test_a_bad_request_gets_a_clear_json_reason(client, sims, path, body, status, reason):
    got, reply = await call(client, path, body)
    assert got == status and reply["ok"] is False and reason in reply["error"], reply
    assert not sims.vac.io.flask_present and sims.vac.chamber.leak_mbar_l_per_s == 0


async def test_a_wrong_method_and_a_failing_action_answer_json_without_a_traceback(sims, caplog):
    def broken() -> None:
        raise RuntimeError("the model is broken")

    sims.devices["vac"] = RigDevice("caster", dict, {"boom": Action("boom", "fails", broken)})
    async with TestClient(TestServer(ControlApi(sims.devices, VirtualClock()).app())) as client:
        resp = await client.get("/v1/devices/vac/boom")
        assert resp.status == 405 and (await resp.json())["ok"] is False
        with caplog.at_level(logging.ERROR):
            status, reply = await call(client, "/v1/devices/vac/boom", {})
    assert status == 500 and reply["error"].startswith("internal error (RuntimeError)")
    assert "the model is broken" in caplog.text and "Traceback" not in json.dumps(reply)


async def test_served_on_loopback_the_url_is_written_driven_by_the_cli_then_removed(
    sims, tmp_path, capsys
):
    url_file = tmp_path / "control.url"
    async with serving_control(sims.devices, VirtualClock(), port=0, url_file=url_file) as url:
        assert url.startswith("http://127.0.0.1:") and url_file.read_text() == url + "\n"
        base = ["sim", "control", "--url-file", str(url_file)]
        assert await asyncio.to_thread(main, [*base, "vac", "place-flask"]) == 0
        assert sims.vac.io.flask_present
        assert json.loads(capsys.readouterr().out)["state"]["flask_present"] is True
        assert (
            await asyncio.to_thread(main, [*base, "kiln1_tc", "slow-replies", "delay_s=0.25"]) == 0
        )
        assert sims.kiln.backdoor.faults.delay_s == 0.25
        assert await asyncio.to_thread(main, [*base, "vac.io", "press-estop", "on=false"]) == 0
        assert await asyncio.to_thread(main, [*base, "vac.tc", "open-wire"]) == 1
        assert "refused: open_wire needs channel" in capsys.readouterr().err
        assert await asyncio.to_thread(main, [*base, "vac", "leak", "oops"]) == 2
        assert "'oops': an argument is NAME=VALUE" in capsys.readouterr().err
        assert await asyncio.to_thread(main, ["sim", "control", "--url", url, "vac"]) == 0
        assert "place_flask" in json.loads(capsys.readouterr().out)["actions"]
        port = int(url.split(":")[2].split("/")[0])
        with pytest.raises(ControlApiError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with serving_control(sims.devices, VirtualClock(), port=port):
                pass
    assert not url_file.exists()
    assert await asyncio.to_thread(main, ["sim", "control", "--url", url]) == 1
    assert f"cannot reach the control API at {url}rig" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("control_port = 70000", "control_port: Input should be less than or equal to 65535"),
        ('[sims."a/b"]\nfamily = "eurotherm3200"', "'a/b': a name takes only letters"),
        (
            '[sims.k]\nfamily = "eurotherm3200"\n[casters.k]\nkind = "vacuum"\npty_dir = "/x"',
            "k: named both in [sims] and in [casters]",
        ),
    ],
)
def test_a_bad_rig_file_names_the_problem(tmp_path, text, problem):
    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_rig(path)
