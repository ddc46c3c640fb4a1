"""The lab the soak benchmark runs: two simulated kilns and a simulated vacuum caster served in
this process (as the HIL rigs do), a real influxd 1.x and a real mosquitto on free loopback
ports, and the real daemon (``labctl run --config site.toml``) in a subprocess.

Every period is ``poll_factor`` (10) times as fast as the site default, in simulated seconds:
``lab.tick_s`` 2 -> 0.2, ``casters.*.tick_s`` 1 -> 0.1, ``telemetry.health_interval_s``
10 -> 1, ``mqtt.telemetry_interval_s`` 5 -> 0.5.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drivers._sim.caster_rig import CasterEndpoints, CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.conftest import TEST_PROFILE
from hil_tests.support.daemon import DaemonProcess
from hil_tests.support.mqtt_service import Broker, example_acl, mosquitto
from hil_tests.support.services import Server, influxdb1
from labctl.sim.site import rig_site

#: Site defaults (simulated seconds), divided by the poll factor.
TICK_S = 2.0  # lab.tick_s
CASTER_TICK_S = 1.0  # casters.*.tick_s
HEALTH_S = 10.0  # telemetry.health_interval_s
MQTT_TELEMETRY_S = 5.0  # mqtt.telemetry_interval_s
PROFILE = "hil-short"  # about 2.5 simulated hours to its final hold
LAB = "studio"  # the name the shipped ACL example is written for
MQTT_USER, MQTT_PASSWORD = "labctl-studio", "soak-pw"
ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "profiles"

# Appended to the rig's site file: link staleness beyond any CPU stall of a loaded 2-core
# machine at this clock speed (a soak measures leaks, not tick deadlines), and telemetry to the
# real servers.
EXTRA = """
[kilns.kiln1.interlocks]
stale_after_s = 600

[kilns.kiln2.interlocks]
stale_after_s = 600

[telemetry]
health_interval_s = {health_s}

[influx]
version = 1
url = "{influx_url}"
database = "soak"

[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
username = "{mqtt_user}"
password_file = "{mqtt_secret}"
telemetry_interval_s = {mqtt_s}
"""


class Restartable(Protocol):
    """A server process of hil_tests (``Server``, ``Broker``): stop and start on its port."""

    proc: asyncio.subprocess.Process | None

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def kill(server: Restartable) -> None:
    """SIGKILL the server (no clean shutdown) and reap it; ``start()`` brings it back."""
    if server.proc is not None and server.proc.returncode is None:
        server.proc.kill()
        await server.proc.wait()
    await server.stop()


@dataclass
class SoakLab:
    """What the benchmark drives and samples."""

    clock: ScaledClock
    daemon: DaemonProcess
    influx: Server
    broker: Broker


@dataclass(frozen=True)
class _Ports:
    kiln1: int
    kiln2: int
    caster: CasterEndpoints
    influx_url: str
    mqtt: int


def _site(lab_dir: Path, clock: ScaledClock, epoch: float, ports: _Ports, factor: float) -> str:
    text = rig_site(
        state=lab_dir / "state", profiles=lab_dir / "profiles", speed=clock.speed, epoch=epoch,
        tick_s=TICK_S / factor, kiln_port=ports.kiln1, mode="stream",
        kiln2=(ports.kiln2, "programmer"), caster=ports.caster,
        caster_tick_s=CASTER_TICK_S / factor, name=LAB,
    )  # fmt: skip
    return text + EXTRA.format(
        health_s=HEALTH_S / factor, influx_url=ports.influx_url,
        mqtt_port=ports.mqtt, mqtt_user=MQTT_USER, mqtt_secret=lab_dir / "mqtt.secret",
        mqtt_s=MQTT_TELEMETRY_S / factor,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def soak_lab(lab_dir: Path, speed: float, poll_factor: float) -> AsyncIterator[SoakLab]:
    """Serve the simulators and servers, write the site file, and yield with the daemon
    created (not started); everything is stopped on exit."""
    burnout = lab_dir / "profiles" / "burnout"
    burnout.mkdir(parents=True)
    (burnout / f"{PROFILE}.toml").write_text(TEST_PROFILE)
    (lab_dir / "mqtt.secret").write_text(MQTT_PASSWORD + "\n")
    epoch = time.time()
    clock = ScaledClock(speed, epoch=epoch)
    # the remote-SP lease: far longer than any stall, so only the soak's own faults count
    kilns = [Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=600.0)) for _ in "12"]
    caster = CasterRigSim("vacuum", charge_g=100.0)
    async with contextlib.AsyncExitStack() as stack:
        eps = [await stack.enter_async_context(k.serving(clock=clock, tcp_port=0)) for k in kilns]
        caster_ep = await stack.enter_async_context(caster.serving(clock=clock, pty_dir=lab_dir))
        influx = await stack.enter_async_context(influxdb1(lab_dir / "influx"))
        broker = await stack.enter_async_context(
            mosquitto(lab_dir / "mqtt", users={MQTT_USER: MQTT_PASSWORD}, acl=example_acl())
        )
        assert eps[0].port is not None
        assert eps[1].port is not None
        ports = _Ports(eps[0].port, eps[1].port, caster_ep, influx.url, broker.port)
        site = lab_dir / "site.toml"
        site.write_text(_site(lab_dir, clock, epoch, ports, poll_factor))
        daemon = DaemonProcess(tmp=lab_dir, site=site, log_tail=6000)
        stack.push_async_callback(daemon.stop)
        yield SoakLab(clock=clock, daemon=daemon, influx=influx, broker=broker)
