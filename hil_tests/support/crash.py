"""HIL support for the crash loop: a kiln, a caster, a ledger and a spool draining to InfluxDB.

Each kill is a SIGSTOP, a read-only look at what the daemon's SQLite files (spool, run store)
had committed, then SIGKILL. The cast runs slower than the burnout: the rig's clock slows down
and the daemon restarts on a site whose epoch keeps simulated wall time continuous.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.support.caster import PROFILES, CasterRig
from hil_tests.support.services import Server, influxdb1, influxql
from labctl.ledger import keys
from labctl.sim.site import LEDGER_ORIGIN, CasterPorts, rig_site
from labctl.telemetry.points import TelemetryPoint

BURN_SPEED, BURN_TICK_S = 300.0, 5.0  # the burnout: about 40 wall seconds
CAST_SPEED, CAST_TICK_S = 50.0, 1.0  # the cast, as the caster HIL tests run it
MAX_GAP_MIN, MAX_DROP_C = 30.0, 40.0  # the kiln's resume limits
KILN_LEASE_S = 600.0  # stream mode: simulated seconds without a setpoint write -> heat off
ALLOY, PIECE_CLASS, FLASK_C = "gold-18k-yellow", "medium", 566

# A short schedule ending at the flask temperature of medium 18 kt yellow gold pieces.
PROFILE = f"""
schema_version = 1
name = "crash-short"
description = "short schedule for the crash loop"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 700
casting_temp_c = {FLASK_C}
holdback_band_c = 30
holdback_limit_min = 60
soak_band_c = 20
segments = [
  {{ kind = "ramp", target_c = 300, rate_c_per_h = 450 }},
  {{ kind = "hold", hold_min = 20 }},
  {{ kind = "ramp", target_c = 650, rate_c_per_h = 400 }},
  {{ kind = "hold", hold_min = 20 }},
  {{ kind = "cool", target_c = {FLASK_C}, rate_c_per_h = 200 }},
  {{ kind = "hold", hold_min = 10 }},
  {{ kind = "final_hold" }},
]
"""

EXTRA = """
[kilns.kiln1.resume]
max_gap_min = {gap}
max_drop_c = {drop}

[telemetry]
health_interval_s = 600

[influx]
version = 1
url = "{url}"
database = "labctl"
batch_size = 500
"""

PointKey = tuple[str, tuple[tuple[str, str], ...], int]  # measurement, tags, time


@dataclass(frozen=True)
class Frozen:
    """What the daemon had committed when it was killed."""

    wall: float  # simulated wall time of the kill
    spooled: dict[PointKey, dict[str, Any]]  # points in the spool file, with their fields
    active: dict[str, tuple[int, float, dict[str, Any]]]  # kiln/caster -> id, saved, state
    ended: dict[int, str]  # run or cast id -> outcome, for every ended one


@dataclass
class CrashRig(CasterRig):
    """The lab under test; ``influx`` is up or down as the test decides."""

    influx: Server = field(kw_only=True)
    key: Path = field(kw_only=True)
    ports: CasterPorts = field(kw_only=True)
    kiln_port: int = field(kw_only=True)

    @property
    def state(self) -> Path:
        return self.tmp / "state"

    def write_site(self, speed: float, tick_s: float) -> None:
        """The site for ``speed``; its epoch makes the daemon's wall time equal the rig's."""
        now_real, now_sim = time.time(), self.clock.wall()
        epoch = now_real if speed == 1 else (now_sim - now_real * speed) / (1 - speed)
        text = rig_site(
            state=self.state, profiles=self.tmp / "profiles", speed=speed, epoch=epoch,
            tick_s=tick_s, kiln_port=self.kiln_port, mode="stream", caster=self.ports,
            name="hil-crash", ledger_key=self.key,
        )  # fmt: skip
        extra = EXTRA.format(gap=MAX_GAP_MIN, drop=MAX_DROP_C, url=self.influx.url)
        self.site.write_text(text + extra)

    def slow_down(self) -> None:
        """Casting speed from now on (for the rig now, for the daemon from its next start)."""
        self.clock.set_speed(CAST_SPEED)
        self.write_site(CAST_SPEED, CAST_TICK_S)

    async def freeze_and_kill(self) -> Frozen:
        """SIGSTOP, read what is committed, SIGKILL: a kill at this instant, observed."""
        assert self.daemon.proc is not None
        self.daemon.proc.send_signal(signal.SIGSTOP)
        wall = self.clock.wall()
        frozen = Frozen(wall, spooled(self.state), *runs(self.state))
        await self.daemon.kill(signal.SIGKILL)
        return frozen


def _read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def spooled(state: Path) -> dict[PointKey, dict[str, Any]]:
    """Every point committed to the spool file."""
    out: dict[PointKey, dict[str, Any]] = {}
    for (payload,) in _read(state / "telemetry-spool.sqlite", "SELECT payload FROM points"):
        p = TelemetryPoint.from_json(payload)
        out[(p.measurement, p.tags, p.time_ns)] = dict(p.fields)
    return out


def runs(
    state: Path,
) -> tuple[dict[str, tuple[int, float, dict[str, Any]]], dict[int, str]]:
    """Active runs by machine (id, state saved at, saved state) and outcomes of ended ones."""
    rows = _read(
        state / "runs.sqlite",
        "SELECT id, kiln, state_json, state_saved_wall, outcome, outcome_reason FROM runs",
    )
    active = {m: (i, saved, json.loads(s)) for i, m, s, saved, out, _ in rows if out is None}
    ended = {i: f"{out}: {why}" if why else out for i, _, _, _, out, why in rows if out}
    return active, ended


def run_events(state: Path, run_id: int) -> list[str]:
    sql = f"SELECT text FROM run_events WHERE run_id = {int(run_id)}"
    return [text for (text,) in _read(state / "runs.sqlite", sql)]


def ledger_entries(state: Path) -> dict[int, tuple[str, str]]:
    """Index -> (kind, subject) of every committed ledger entry."""
    rows = _read(state / "ledger.sqlite", "SELECT idx, kind, subject FROM entries")
    return {i: (kind, subject) for i, kind, subject in rows}


async def influx_points(url: str) -> dict[PointKey, dict[str, Any]]:
    """Every point InfluxDB holds, keyed as the spool keys them."""
    out: dict[PointKey, dict[str, Any]] = {}
    for series in await influxql(url, "labctl", "SELECT * FROM /.*/ GROUP BY *"):
        tags = tuple(sorted((k, v) for k, v in series.get("tags", {}).items() if v))
        for values in series["values"]:
            row = dict(zip(series["columns"], values, strict=True))
            fields = {k: v for k, v in row.items() if k != "time" and v is not None}
            out[(series["name"], tags, int(row["time"]))] = fields
    return out


@contextlib.asynccontextmanager
async def crash_rig(
    tmp: Path, kind: Literal["vacuum", "centrifugal"], kiln_c: float
) -> AsyncIterator[CrashRig]:
    """The lab served (the kiln at ``kiln_c``), InfluxDB running, the site written."""
    profiles = tmp / "profiles"
    (profiles / "burnout").mkdir(parents=True)
    (profiles / "burnout" / "crash-short.toml").write_text(PROFILE)
    (profiles / "alloys").symlink_to(PROFILES / "alloys")
    (tmp / "state").mkdir()
    key = tmp / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    clock = ScaledClock(BURN_SPEED)
    sim = CasterRigSim(kind, solidus_c=880.0, liquidus_c=930.0, charge_g=100.0, start_c=1000.0)
    sim.io.flask_present = False
    options = SimOptions(flask="small", comms_timeout_s=KILN_LEASE_S, start_temp_c=kiln_c)
    kiln = Eurotherm3200Sim(options)
    async with (
        influxdb1(tmp / "influx") as influx,
        sim.serving(clock=clock, pty_dir=tmp) as ports,
        kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
    ):
        assert kiln_ep.port is not None
        rig = CrashRig(
            tmp=tmp, sim=sim, kiln=kiln, clock=clock, site=tmp / "site.toml", influx=influx,
            key=key, ports=ports, kiln_port=kiln_ep.port,
        )  # fmt: skip
        rig.write_site(BURN_SPEED, BURN_TICK_S)
        try:
            yield rig
        finally:
            await rig.stop_daemon()


@dataclass
class Clerk:
    """Signs lot receipts into the ledger all along, remembering every acknowledged index."""

    rig: CrashRig
    acked: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> kind, subject
    tried: int = 0

    async def run(self) -> None:
        """Append forever (a task, cancelled by the test); a refused or lost reply is no ack."""
        while True:
            self.tried += 1
            lot = f"L-CRASH-{self.tried:05d}"
            record = dict(LOT, lot_id=lot)
            with contextlib.suppress(OSError):
                reply = await self.rig.command("ledger_record", kind="lot-receipt", record=record)
                if reply.get("ok"):
                    self.acked[int(reply["result"]["index"])] = ("lot-receipt", lot)
            await asyncio.sleep(0.1)

    async def sign(self, records: list[dict[str, Any]]) -> None:
        """Sign ``records`` now, each acknowledged."""
        for rec in records:
            reply = await self.rig.command("ledger_record", **rec)
            assert reply["ok"], reply
            self.acked[int(reply["result"]["index"])] = (rec["kind"], str(reply["result"]["id"]))

    def lost(self) -> list[int]:
        """Acknowledged entries missing from the ledger file, or holding something else."""
        entries = ledger_entries(self.rig.state)
        return [i for i, entry in self.acked.items() if entries.get(i) != entry]


LOT = {
    "received_at": "2026-11-24T09:00:00+00:00", "received_by": "crash", "coc_class": "recycled",
    "supplier": {"name": "Crash Loop Refining"}, "metal": "gold", "fineness_ppt": 750,
    "mass_mg": 1000,
}  # fmt: skip
