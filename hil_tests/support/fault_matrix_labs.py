"""The labs the fault matrix runs on: a kiln rig or a caster rig, each with the real daemon,
its own InfluxDB 1.x and a signed ledger (audited when the lab closes).

The clock-jump fault needs the daemon's host clock to step: modelled (an assumption, stated in
the matrix) as a step seen by ``time.time()`` in the daemon process and not by
``time.monotonic()``, like an NTP step or a technician setting the date. Daemons started in a lab
get a ``sitecustomize`` on their ``PYTHONPATH`` that wraps ``time.time`` and adds a day on
SIGUSR2, and says so on stderr, so a cell can prove the jump happened.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil_tests.conftest import Rig
from hil_tests.support.caster import PROFILES, caster_rig
from hil_tests.support.chains import cast_ids, chain_records
from hil_tests.support.daemon import DaemonProcess
from hil_tests.support.services import influxdb1, influxql
from hil_tests.test_telemetry import influx_site
from labctl.ledger import keys
from labctl.profiles.alloys import load_alloy
from labctl.sim.site import LEDGER_ORIGIN

ALLOY = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
JUMP_S = 86_400.0
CHAINS = 8  # casts one caster row may start (a phase each, and one more after a full disk)
MARK = "fault-matrix: wall clock stepped"
_SITECUSTOMIZE = f"""
import signal, sys, time
_real, _offset = time.time, [0.0]
time.time = lambda: _real() + _offset[0]
def _jump(signum, frame):
    _offset[0] += {JUMP_S}
    print("{MARK} by {JUMP_S} s", file=sys.stderr, flush=True)
signal.signal(signal.SIGUSR2, _jump)
"""


@contextlib.contextmanager
def jumpable_daemons(tmp: Path) -> Iterator[None]:
    """Daemons started meanwhile step their wall clock on SIGUSR2."""
    site = tmp / "clock-jump"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), before) if p)
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


@dataclass
class MatrixLab:
    """A rig with its daemon running, its InfluxDB and its ledger."""

    rig: Any  # Rig (a kiln) or CasterRig
    daemon: DaemonProcess
    influx_url: str
    ledger_db: Path
    casts: int = 0  # casts started so far: the next one takes chain ``casts``

    def next_chain(self) -> dict[str, str]:
        """The flask and melt of the next cast (each is cast once)."""
        assert self.casts < CHAINS, "record more chains for this row"
        self.casts += 1
        return cast_ids(self.casts - 1)

    async def status(self) -> dict[str, Any]:
        status = await self.daemon.status()
        assert status is not None, f"the daemon does not answer\n{self.daemon.log()}"
        return status

    async def alive(self, cell: str) -> None:
        """The daemon has not exited and still answers."""
        proc = self.daemon.proc
        assert proc is not None and proc.returncode is None, f"{cell}: the daemon exited"
        await self.status()

    async def telemetry(self, measurement: str) -> tuple[int, int]:
        """``measurement`` points offered to the spool so far, and all points it dropped."""
        telemetry = (await self.status())["telemetry"]
        return int(telemetry["offered"].get(measurement, 0)), int(telemetry["dropped"])

    async def lab_alarm(self, start: str) -> bool:
        """A lab alarm starting with ``start`` is in the status and on the alarm board."""
        listed = any(text.startswith(start) for text in (await self.status())["alarms"])
        board = await self.daemon.command("alarms")
        assert board["ok"], board
        lab = [a["text"] for a in board["result"]["alarms"] if a["source"] == "lab"]
        return listed and any(text.startswith(start) for text in lab)


def _ledger_site(key: Path) -> str:
    return f'\n[ledger]\norigin = "{LEDGER_ORIGIN}"\nkey_files = ["{key}"]\n'


def _audit(site: Path) -> None:
    """The whole ledger verifies: every record signed, the tree and checkpoints consistent."""
    cmd = [sys.executable, "-m", "labctl.cli", "ledger", "verify", "--config", str(site)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0 and "valid" in done.stdout, done.stdout + done.stderr


@contextlib.asynccontextmanager
async def kiln_lab(
    make_rig: Callable[..., Any], tmp: Path, transport: str, disk: bool = False
) -> AsyncIterator[MatrixLab]:
    key = tmp / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    with jumpable_daemons(tmp), state_fs(tmp, disk):
        async with influxdb1(tmp / "influx") as influx:
            await influxql(influx.url, "labctl", "CREATE DATABASE labctl")  # before the first write
            rig: Rig = await make_rig(
                transport=transport, extra=influx_site(influx.url) + _ledger_site(key)
            )
            await rig.start_daemon()
            yield MatrixLab(rig, rig.daemon, influx.url, tmp / "state" / "ledger.sqlite")
            await rig.stop_daemon()
        _audit(rig.site)


@contextlib.contextmanager
def state_fs(tmp: Path, small: bool) -> Iterator[None]:
    """With ``small``, the state directory is a 32 MB tmpfs of its own (it needs root), so the
    disk-full fault can fill it without touching anything else.
    """
    state = tmp / "state"
    state.mkdir(exist_ok=True)
    if not small:
        yield
        return
    mount = ["mount", "-t", "tmpfs", "-o", "size=32m,mode=0750", "tmpfs", str(state)]
    subprocess.run(mount, check=True, capture_output=True, timeout=10)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(state)], check=True, timeout=10)


@contextlib.asynccontextmanager
async def caster_lab(tmp: Path, kind: str, disk: bool = False) -> AsyncIterator[MatrixLab]:
    key = tmp / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    flask_c = ALLOY.flask.medium_c
    with jumpable_daemons(tmp), state_fs(tmp, disk):
        async with (
            influxdb1(tmp / "influx") as influx,
            caster_rig(tmp, kind, flask_c=flask_c, crucible_c=1000.0, ledger_key=key) as rig,  # type: ignore[arg-type]
        ):
            await influxql(influx.url, "labctl", "CREATE DATABASE labctl")  # before any write
            rig.site.write_text(rig.site.read_text() + influx_site(influx.url))
            await rig.start_daemon()  # then the flask's kiln holds it hot (CasterRig.hold_flask)
            chains = chain_records(CHAINS, ALLOY.name, "medium", ALLOY.metal, ALLOY.fineness_ppt)
            for record in chains:  # a flask and a melt for each cast of the row
                reply = await rig.command("ledger_record", **record)
                assert reply["ok"], reply
            yield MatrixLab(rig, rig.daemon, influx.url, tmp / "state" / "ledger.sqlite")
            await rig.stop_daemon()
        _audit(rig.site)
