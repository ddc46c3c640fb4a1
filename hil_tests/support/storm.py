"""HIL support for the command storm: the whole lab (a kiln and a vacuum caster simulated, real
mosquitto, real InfluxDB 1.x, the touchscreen API, a ledger). The seeded generator of commands
(valid, invalid, repeated, out of order) and device faults is in
``hil_tests/support/storm_traffic.py``; the clients it fires through are in
``hil_tests/support/storm_clients.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.support.caster import PROFILES
from hil_tests.support.chains import chain_records as _chain_records
from hil_tests.support.chains import flask_id, melt_id
from hil_tests.support.daemon import DaemonProcess
from hil_tests.support.mqtt_service import Broker, mosquitto
from hil_tests.support.services import Server, free_port, influxdb1, influxql
from labctl.ledger import keys
from labctl.sim.site import LEDGER_ORIGIN, RIG_PEOPLE, rig_site, ui_site

SPEED = 100.0  # simulated seconds per wall second
KILN_TICK_S = 5.0  # simulated: 50 ms of wall time
LAB = "storm"
ALLOY, PIECE_CLASS, FLASK_C = "gold-18k-yellow", "medium", 566.0
CHAINS = 4  # lot -> melt -> job -> flask chains recorded before the storm: casts that may start
CONFIRM_TIMEOUT_S = 1500.0  # simulated: 15 wall seconds for a storm command to confirm a step

MQTT_TECHS = ("tech", "mqtech")  # known to labctl as technicians; "stranger" is not

# Starts on a hot kiln (the flask at its casting temperature), so a cast may start at once and
# a burnout moves the kiln away from it: both machines see every state in a short storm.
PROFILE = f"""
schema_version = 1
name = "storm-short"
description = "short schedule for the command storm"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 700
casting_temp_c = {FLASK_C:.0f}
holdback_band_c = 30
holdback_limit_min = 60
soak_band_c = 20
segments = [
  {{ kind = "ramp", target_c = 300, rate_c_per_h = 450 }},
  {{ kind = "hold", hold_min = 5 }},
  {{ kind = "ramp", target_c = 650, rate_c_per_h = 600 }},
  {{ kind = "hold", hold_min = 5 }},
  {{ kind = "cool", target_c = {FLASK_C:.0f}, rate_c_per_h = 300 }},
  {{ kind = "hold", hold_min = 5 }},
  {{ kind = "final_hold" }},
]
"""


def password(user: str) -> str:
    return f"pw-{user}"


def acl(people: tuple[str, ...]) -> str:
    """labctl's own lines (as in systemd/'s example) and each person's cmd/reply topics."""
    text = """
user labctl-storm
topic write labctl/storm/status
topic write labctl/storm/state/#
topic write labctl/storm/events/#
topic write labctl/storm/telemetry/#
topic write labctl/storm/reply/#
topic read labctl/storm/cmd/#
topic readwrite labctl/storm/heartbeat
"""
    for u in people:
        text += f"\nuser {u}\ntopic write labctl/storm/cmd/{u}\n"
        text += f"topic read labctl/storm/reply/{u}\ntopic read labctl/storm/state/#\n"
    return text


EXTRA = """
[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
username = "labctl-storm"
password_file = "{secret}"
client_id = "labctl-storm"
telemetry_interval_s = 1

[telemetry]
health_interval_s = 600

[influx]
version = 1
url = "{influx}"
database = "labctl"
batch_size = 500
"""


@dataclass
class StormLab:
    """The simulated devices, the servers and the daemon under test."""

    tmp: Path
    kiln: Eurotherm3200Sim
    caster: CasterRigSim
    clock: ScaledClock
    site: Path
    broker: Broker
    influx: Server
    ui_url: str
    daemon: DaemonProcess = field(init=False)

    def __post_init__(self) -> None:
        self.daemon = DaemonProcess(tmp=self.tmp, site=self.site, log_tail=6000)

    async def start_daemon(self) -> None:
        """Start and wait until every transport answers: socket, MQTT bridge, touchscreen."""
        await self.daemon.start()
        await self.wait_ready()

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        await self.daemon.wait_for(
            lambda s: (
                s["kilns"][0]["pv_c"] is not None
                and s["casters"][0]["crucible_c"] is not None
                and bool(s["telemetry"].get("mqtt_connected"))
            ),
            timeout_s=timeout_s,
        )
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while True:
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.ui_url + "api/session") as resp:
                        if resp.status == 200:
                            return
                assert time.monotonic() < deadline, f"touchscreen not up\n{self.daemon.log()}"
                await asyncio.sleep(0.05)


def chain_records(n: int) -> list[dict[str, Any]]:
    """``n`` chains of the storm's alloy and class (flask ``F-S<i>07``, melt ``M-S<i>31``)."""
    return _chain_records(n, ALLOY, PIECE_CLASS, "gold", 750)


__all__ = ["chain_records", "flask_id", "melt_id"]


@contextlib.asynccontextmanager
async def storm_lab(
    tmp: Path,
    *,
    speed: float = SPEED,
    tick_s: float = KILN_TICK_S,
    burnouts: dict[str, str] | None = None,
    mqtt_techs: tuple[str, ...] = MQTT_TECHS,
) -> AsyncIterator[StormLab]:
    """Everything served and the site written (the daemon is started by the test).

    ``burnouts``: profile name -> TOML (default: storm-short); ``mqtt_techs``: MQTT users
    labctl knows as technicians (``tech`` is the touchscreen's too); ``stranger`` it does not.
    """
    profiles = tmp / "profiles"
    (profiles / "burnout").mkdir(parents=True)
    for name, text in (burnouts or {"storm-short": PROFILE}).items():
        (profiles / "burnout" / f"{name}.toml").write_text(text)
    (profiles / "alloys").symlink_to(PROFILES / "alloys")
    (tmp / "state").mkdir()
    key = tmp / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    secret = tmp / "mqtt.secret"
    secret.write_text(password("labctl-storm") + "\n")
    people = (*mqtt_techs, "stranger")
    passwords = {u: password(u) for u in ("labctl-storm", *people)}
    epoch = time.time()
    clock = ScaledClock(speed, epoch=epoch)
    caster = CasterRigSim("vacuum", solidus_c=880.0, liquidus_c=930.0, charge_g=100.0,
                          start_c=1000.0)  # fmt: skip
    kiln = Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=600, start_temp_c=FLASK_C))
    ui_port = free_port()
    async with (
        influxdb1(tmp / "influx") as influx,
        mosquitto(tmp / "mqtt", users=passwords, acl=acl(people)) as broker,
        caster.serving(clock=clock, pty_dir=tmp) as ports,
        kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
    ):
        assert kiln_ep.port is not None
        site = tmp / "site.toml"
        text = rig_site(
            state=tmp / "state", profiles=profiles, speed=speed, epoch=epoch,
            tick_s=tick_s, kiln_port=kiln_ep.port, mode="stream", caster=ports,
            confirm_timeout_s=CONFIRM_TIMEOUT_S, name=LAB, ledger_key=key,
        )  # fmt: skip
        text += ui_site(ui_port)
        text += "".join(
            f'\n[users.{u}]\nrole = "technician"\n' for u in mqtt_techs if u not in RIG_PEOPLE
        )
        text += EXTRA.format(mqtt_port=broker.port, secret=secret, influx=influx.url)
        site.write_text(text)
        lab = StormLab(
            tmp=tmp, kiln=kiln, caster=caster, clock=clock, site=site, broker=broker,
            influx=influx, ui_url=f"http://127.0.0.1:{ui_port}/",
        )  # fmt: skip
        try:
            yield lab
        finally:
            await lab.daemon.stop()


async def influx_kiln_points(url: str, after_ns: int, until_ns: int) -> int:
    q = f'SELECT count("state") FROM "kiln" WHERE time > {after_ns} AND time <= {until_ns}'
    series = await influxql(url, "labctl", q)
    return int(series[0]["values"][0][1]) if series else 0
