"""A rig written in any language: `labctl sim` and the daemon as subprocesses, driven only through
the rig's control API (HTTP/JSON) and the daemon's public interfaces (the `labctl` CLI and its
control socket). No simulator object lives in this process.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

from hil_tests.support.daemon import DaemonProcess
from labctl.profiles.alloys import load_alloy
from labctl.sim.demo.records import demo_records
from labctl.sim.site import LEDGER_ORIGIN as ORIGIN
from labctl.sim.site import rig_site

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

SPEED = 50.0  # simulated seconds per wall second, for the rig and the daemon alike
PROFILES = Path(__file__).resolve().parent.parent / "profiles"

ALLOY = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
FLASK_C = ALLOY.flask.medium_c  # the kiln must hold the flask within ±40 °C of it at a start
# With the heat off a kiln cools about 4 °C per simulated minute. kiln1 starts inside the band
# for the first cast; kiln2 starts above it, and the second cast waits until it has cooled in.
KILN1_C, KILN2_C = FLASK_C + 30, FLASK_C + 75
IN_BAND_C = 30

RIG = """
speed = {speed}
epoch = {epoch}
control_port = 0
control_url_file = "{tmp}/control.url"

[sims.kiln1_tc]
family = "eurotherm3200"
flask = "small"
start_temp_c = {kiln1_c}

[sims.kiln2_tc]
family = "eurotherm3200"
flask = "small"
start_temp_c = {kiln2_c}

[casters.caster1]
kind = "vacuum"
pty_dir = "{tmp}/caster1"
solidus_c = {solidus}
liquidus_c = {liquidus}
charge_g = 100
start_temp_c = 1000
"""


async def labctl(*args: str) -> tuple[int, str, str]:
    """Run the `labctl` command line; its exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labctl.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@dataclass(frozen=True)
class Ports:
    """Where the rig serves its caster's devices, as read from its control API."""

    kind: Literal["vacuum", "centrifugal"]
    crucible_port: int
    io_port: int
    tc_path: Path
    gauge_path: Path | None
    drive_port: int | None = None


class RigApi:
    """The rig's control API over plain HTTP."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def state(self) -> dict[str, Any]:
        async with self.session.get(self.url + "rig") as resp:
            reply: dict[str, Any] = await resp.json()
        assert resp.status == 200 and reply["ok"], reply
        devices: dict[str, Any] = reply["devices"]
        return devices

    async def act(self, device: str, action: str, **args: object) -> dict[str, Any]:
        async with self.session.post(f"{self.url}devices/{device}/{action}", json=args) as resp:
            reply: dict[str, Any] = await resp.json()
        assert resp.status == 200 and reply["ok"], reply
        return reply


async def _serve_rig(tmp: Path, epoch: float) -> tuple[asyncio.subprocess.Process, str]:
    rig = tmp / "rig.toml"
    rig.write_text(
        RIG.format(
            speed=SPEED, epoch=epoch, tmp=tmp, kiln1_c=KILN1_C, kiln2_c=KILN2_C,
            solidus=ALLOY.solidus_c, liquidus=ALLOY.liquidus_c,
        )
    )  # fmt: skip
    with (tmp / "rig.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "labctl.cli", "sim", "--config", str(rig), stdout=log, stderr=log
        )
    url_file, deadline = tmp / "control.url", time.monotonic() + 20
    while not url_file.exists():
        assert time.monotonic() < deadline, (tmp / "rig.log").read_text()
        await asyncio.sleep(0.05)
    return proc, url_file.read_text().strip()


def _site(tmp: Path, epoch: float, devices: dict[str, Any]) -> Path:
    def port(name: str) -> int:
        value: int = devices[name]["endpoint"]["tcp_port"]
        return value

    ports = Ports(
        "vacuum", port("caster1.crucible"), port("caster1.io"),
        Path(devices["caster1.tc"]["endpoint"]["pty"]),
        Path(devices["caster1.gauge"]["endpoint"]["pty"]),
    )  # fmt: skip
    (tmp / "state").mkdir()
    site = tmp / "site.toml"
    site.write_text(
        rig_site(
            state=tmp / "state", profiles=PROFILES, speed=SPEED, epoch=epoch, tick_s=1.0,
            kiln_port=port("kiln1_tc"), mode="programmer", kiln2=(port("kiln2_tc"), "programmer"),
            caster=ports, name="hil-rig-control", ledger_key=tmp / "ledger.key",
        )
    )  # fmt: skip
    return site


async def _start_cast(daemon: DaemonProcess, site: Path, n: int, kiln: str) -> str:
    """Sign a lot -> melt and job -> flask chain (``n``), then start its cast with the CLI."""
    ids = {"L-2026-014": f"L-2026-{n}4", "M-0031": f"M-003{n}", "J-1001": f"J-100{n}"}
    ids |= {"F-0007": f"F-000{n}", "T-0007": f"T-000{n}"}
    text = json.dumps(demo_records(ALLOY.name, "medium", ALLOY.metal, ALLOY.fineness_ppt))
    for old, new in ids.items():
        text = text.replace(old, new)
    for record in json.loads(text):  # over the CLI's socket: the setup, not what is tested
        reply = await daemon.command("ledger_record", **record)
        assert reply["ok"], reply
    code, out, err = await labctl(
        "cast-start", "caster1", ALLOY.name, "medium", "--kiln", kiln,
        "--flask-id", ids["F-0007"], "--melt-id", ids["M-0031"], *cfg(site),
    )  # fmt: skip
    assert code == 0, out + err
    return f"cast-{json.loads(out)['cast_id']}"


def cfg(site: Path) -> tuple[str, str]:
    return "--config", str(site)


def _caster(status: dict[str, Any]) -> dict[str, Any]:
    caster: dict[str, Any] = status["casters"][0]
    return caster


async def _to_vacuum_hold(daemon: DaemonProcess, rig: RigApi, site: Path) -> None:
    """Wait for the flask transfer, place the flask at the rig, confirm it with the CLI."""
    await daemon.wait_for(lambda c: c["waiting_for"] == "flask_placed", timeout_s=40, view=_caster)
    await rig.act("caster1", "place_flask")
    await daemon.wait_for(lambda c: c["flask_present"], timeout_s=5, view=_caster)
    code, out, err = await labctl("cast-confirm", "caster1", "flask_placed", *cfg(site))
    assert code == 0, out + err
    await daemon.wait_for(lambda c: c["state"] == "vacuum_hold", timeout_s=20, view=_caster)


def _kiln2_ready(status: dict[str, Any]) -> bool:
    pv = next(k["pv_c"] for k in status["kilns"] if k["kiln"] == "kiln2")
    return pv is not None and abs(pv - FLASK_C) < IN_BAND_C


def _reading(caster: dict[str, Any]) -> bool:
    return not caster["stale"] and caster["crucible_c"] is not None


def _ended(caster: dict[str, Any]) -> bool:
    return caster["state"] == "idle" and caster["outcome"] is not None


async def test_a_rig_driven_only_from_outside_casts_signs_and_faults(tmp_path):
    epoch = time.time()
    sim, url = await _serve_rig(tmp_path, epoch)
    daemon: DaemonProcess | None = None
    try:
        async with aiohttp.ClientSession() as session:
            rig = RigApi(session, url)
            site = _site(tmp_path, epoch, await rig.state())
            key = tmp_path / "ledger.key"
            code, out, err = await labctl("ledger", "keygen", "--key", str(key), "--origin", ORIGIN)
            assert code == 0, out + err
            daemon = DaemonProcess(tmp=tmp_path, site=site, log_tail=6000)
            await daemon.start()
            await daemon.wait_for(_reading, timeout_s=20, view=_caster)

            # 1. A whole vacuum cast: the flask placed at the rig, confirmed with the CLI.
            cast_id = await _start_cast(daemon, site, 1, "kiln1")
            await _to_vacuum_hold(daemon, rig, site)
            devices = await rig.state()
            assert ALLOY.vacuum is not None
            assert devices["caster1"]["state"]["chamber_mbar"] < ALLOY.vacuum.target_mbar
            assert devices["caster1.io"]["state"]["coils"]["pump"] is True
            done = await daemon.wait_for(_ended, timeout_s=30, view=_caster)
            assert done["outcome"] == "completed", done
            io = (await rig.state())["caster1.io"]["state"]
            assert io["coils"]["vent_valve"] and not io["coils"]["pump"] and not io["coils"]["pour"]

            # its signed record, exported and verified with the CLI only
            code, out, err = await labctl("ledger", "export", cast_id, *cfg(site))
            assert code == 0, out + err
            certificate = tmp_path / "state" / "certificates" / cast_id
            code, out, err = await labctl("ledger", "verify-certificate", str(certificate))
            assert code == 0 and f"verified: cast-record {cast_id}" in out, out + err

            # 2. The cast flask is taken out; a second cast is stopped by the e-stop in the hold.
            await rig.act("caster1", "remove_flask")
            await daemon.wait_for(_kiln2_ready, timeout_s=30)
            await _start_cast(daemon, site, 2, "kiln2")
            await _to_vacuum_hold(daemon, rig, site)
            pressed = await rig.act("caster1", "press_estop")
            assert pressed["state"]["estop_ok"] is False
            done = await daemon.wait_for(_ended, timeout_s=30, view=_caster)
            assert done["outcome"] == "faulted: e-stop pressed", done
            code, out, err = await labctl("status", *cfg(site))
            assert code == 0 and "last cast: faulted: e-stop pressed" in out, out + err
            await rig.act("caster1", "release_estop")
            await daemon.wait_for(lambda c: c["safe"], timeout_s=20, view=_caster)
            io = (await rig.state())["caster1.io"]["state"]
            assert io["coils"]["vent_valve"] and not io["coils"]["pump"]
            await daemon.stop()
        code, out, err = await labctl("ledger", "verify", *cfg(site))
        assert code == 0 and "valid" in out, out + err
    finally:
        if daemon is not None:
            await daemon.stop()
        sim.terminate()
        assert await asyncio.wait_for(sim.wait(), 10) == 0, (tmp_path / "rig.log").read_text()
    assert not (tmp_path / "control.url").exists()
