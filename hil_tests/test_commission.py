"""``labctl commission`` (the real CLI, a subprocess) against every simulator, served in this
process on loopback TCP and ptys: each device passes; a simulator with a wrong fact fails the
check that names it; ``labctl ledger verify`` accepts the log holding the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from drivers._modbus.registers import RegisterMap
from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from drivers.iomodule.dcon import CommSafety
from drivers.iomodule.sim import IoModuleOptions, IoModuleSim
from drivers.omron_e5cc import MAP as E5CC_MAP
from drivers.omron_e5cc.bank import E5ccBank
from drivers.omron_e5cc.sim import OmronE5ccSim
from labctl.commission.record import commissioned, commissioning_records
from labctl.config.site import load_site
from labctl.ledger import keys
from labctl.ledger.ops_records import Commissioning
from labctl.ledger.service import LedgerService
from labctl.sim.site import LEDGER_ORIGIN, rig_site

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

SPEED = 50.0  # simulated seconds per wall second: a 60 s lease is 1.2 s
PROFILES = Path(__file__).resolve().parent.parent / "profiles"
#: The rig's crucible may reach 1450 °C, beyond its type K module's 1370 °C: commissioning
#: refuses that ("ranges"), so the test lab keeps the crucible within what its module reads.
CRUCIBLE_MAX = ("crucible_max_c = 1450", "crucible_max_c = 1300")


class WrongDecimalPoint(Eurotherm3200Sim):
    """A 3216 set up with two decimals (dEc.P = 2), not the one labctl's table is built for."""

    def _factory_reset(self) -> None:
        super()._factory_reset()
        self.bank.set("decimals", 2)


class MovedDecimalPoint(OmronE5ccSim):
    """An E5CC whose decimal-point monitor sits one address above H175's 0x2410."""

    def __init__(self) -> None:
        super().__init__()
        moved = (
            dataclasses.replace(r, address=r.address + 1) if r.name == "decimal_point" else r
            for r in E5CC_MAP
        )
        self.bank = E5ccBank(RegisterMap(moved, documented=E5CC_MAP.spans), on_write=self._on_write)
        self.reboot()


#: An I/O module whose comm safety was set up (DCON $AAX0) with 600 s, not the rig's 60 s
#: io_lease_s: within the lease and its margin its watchdog never fires.
LONG_TIMEOUT = IoModuleOptions(comm_safety=CommSafety(600.0))


@contextlib.asynccontextmanager
async def lab(
    tmp: Path,
    kind: Literal["vacuum", "centrifugal"],
    kiln: Eurotherm3200Sim | None = None,
    io: IoModuleSim | None = None,
    crucible: OmronE5ccSim | None = None,
) -> AsyncIterator[Path]:
    """A simulated kiln and caster, and the site file (with a ledger) that names them."""
    epoch = time.time()
    clock = ScaledClock(SPEED, epoch=epoch)
    caster = CasterRigSim(kind)
    if io is not None:
        io.flask_present = False
        caster.io = io
    caster.crucible = crucible or caster.crucible
    kiln = kiln or Eurotherm3200Sim(SimOptions(flask="small"))
    key = tmp / "log.key"
    if not key.exists():
        keys.generate(key, LEDGER_ORIGIN)
    (tmp / "state").mkdir(exist_ok=True)
    async with (
        caster.serving(clock=clock, pty_dir=tmp) as ep,
        kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
    ):
        assert kiln_ep.port is not None
        site = tmp / f"{kind}.toml"
        text = rig_site(
            state=tmp / "state", profiles=PROFILES, speed=SPEED, epoch=epoch, tick_s=1.0,
            kiln_port=kiln_ep.port, caster=ep, ledger_key=key,
        )  # fmt: skip
        site.write_text(text.replace(*CRUCIBLE_MAX))
        yield site


async def labctl(*args: str) -> tuple[int, str]:
    """Run the CLI while this process keeps serving the simulators; exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labctl.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def failed_checks(output: str) -> set[str]:
    return set(re.findall(r"^\s+FAIL\s+(\S+)", output, re.MULTILINE))


async def commission(site: Path, device: str) -> tuple[int, str]:
    return await labctl("commission", "--config", str(site), device)


async def test_every_simulator_passes_and_the_records_verify(tmp_path: Path) -> None:
    vacuum = ["kiln1", "caster1.crucible", "caster1.io", "caster1.crucible_tc", "caster1.gauge"]
    devices: dict[Literal["vacuum", "centrifugal"], list[str]] = {
        "vacuum": vacuum,
        "centrifugal": ["caster1.drive"],
    }
    for kind, names in devices.items():
        async with lab(tmp_path, kind) as site:
            for name in names:
                code, out = await commission(site, name)
                assert code == 0, out
                assert f"{name}: PASSED" in out, out
                assert not failed_checks(out), out
    code, out = await labctl("ledger", "verify", "--config", str(site))
    assert code == 0, out
    assert "6 entries" in out and "valid" in out, out
    held = await _records(site)
    assert {r.device for r in held} == {n for names in devices.values() for n in names}
    assert all(r.passed and r.who for r in held)
    state = commissioned(held, load_site(site))  # the centrifugal lab's config
    assert state["caster1.drive"]
    assert not state["kiln1"]  # passed on the vacuum lab, whose kiln listens on another port


async def test_a_wrong_decimal_point_fails_identity(tmp_path: Path) -> None:
    async with lab(tmp_path, "vacuum", kiln=WrongDecimalPoint()) as site:
        code, out = await commission(site, "kiln1")
    assert code == 1, out
    assert "identity" in failed_checks(out), out
    assert "dEc.P (525) = 2" in out, out
    assert "kiln1: FAILED (identity" in out, out


async def test_a_register_off_the_manuals_address_fails_registers(tmp_path: Path) -> None:
    crucible = MovedDecimalPoint()
    async with lab(tmp_path, "vacuum", crucible=crucible) as site:
        code, out = await commission(site, "caster1.crucible")
    assert code == 1, out
    assert failed_checks(out) == {"registers", "identity", "inhibit"}, out
    assert not crucible.writes_enabled  # not the unit named: nothing was written to it
    assert "decimal_point (holding 9232)" in out, out  # 0x2410, refused by the unit
    assert "decimal-point monitor (0x2410) = unread" in out, out


async def test_an_io_module_without_its_watchdog_fails_the_lease(tmp_path: Path) -> None:
    async with lab(tmp_path, "vacuum", io=IoModuleSim(LONG_TIMEOUT)) as site:
        code, out = await commission(site, "caster1.io")
        assert failed_checks(out) == {"lease"}, out
        assert code == 1
        assert "did NOT trip within 66 s" in out and "io_lease_s 60 s" in out, out
        verify, report = await labctl("ledger", "verify", "--config", str(site))
    assert verify == 0, report
    (record,) = await _records(site)
    assert not record.passed
    assert not commissioned([record], load_site(site))["caster1.io"]


async def test_an_io_module_without_comm_safety_fails_identity(tmp_path: Path) -> None:
    io = IoModuleSim(IoModuleOptions(comm_safety_enabled=False))
    io.bank.set("vent_valve", False)  # left closed: a write of the safe state would open it
    async with lab(tmp_path, "vacuum", io=io) as site:
        code, out = await commission(site, "caster1.io")
    assert code == 1, out
    assert failed_checks(out) == {"identity", "inhibit"}, out
    assert "comm safety not enabled (40215 = 0): the lease is not armed" in out, out
    assert not io.coils.vent_valve  # nothing was written, not even the safe state


async def _records(site: Path) -> list[Commissioning]:
    cfg = load_site(site)
    assert cfg.ledger is not None
    service = await LedgerService.open(
        cfg.state_dir / "ledger.sqlite", origin=cfg.ledger.origin, key_files=cfg.ledger.key_files
    )
    try:
        return await commissioning_records(service)
    finally:
        await service.close()
