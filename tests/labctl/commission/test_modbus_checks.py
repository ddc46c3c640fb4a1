"""The Modbus families' checks against their simulators at the wire seam, in virtual time."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers._sim.server import ModbusSim
from drivers.clock import VirtualClock
from drivers.delta_vfd.sim import DeltaVfdSim
from drivers.eurotherm3200.registers import TStat
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from drivers.iomodule.dcon import CommSafety
from drivers.iomodule.registers import SAFE
from drivers.iomodule.sim import IoModuleOptions, IoModuleSim
from drivers.omron_e5cc.sim import OmronE5ccSim
from labctl.commission.modbus_family import Refused
from labctl.commission.runner import commission_device
from labctl.ledger.ops_records import Commissioning, DeviceCheck
from tests.labctl.commission.support import SITE, links_to, site

BUS = {"kiln1": "kiln_link", "caster1.crucible": "crucible_link", "caster1.io": "io_link"}
BUS["caster1.drive"] = "drive_link"
ORDER = ["registers", "identity", "inhibit", "blocks", "writes", "turnaround", "lease"]
IO_SET_UP = IoModuleOptions(comm_safety=CommSafety(20.0))  # $AAX0 with the site's io_lease_s


async def run(
    tmp: Path, device: str, sim: ModbusSim, text: str = SITE
) -> tuple[Commissioning, list[DeviceCheck]]:
    cfg, clock, seen = site(tmp, text), VirtualClock(), list[DeviceCheck]()
    async with links_to(cfg, {BUS[device]: sim}, clock) as (links, _):
        record = await commission_device(
            cfg, device, access=links, clock=clock, who="tester", on_check=seen.append
        )
    return record, seen


def check(record: Commissioning, name: str) -> DeviceCheck:
    (found,) = [c for c in record.checks if c.name == name]
    return found


@pytest.mark.parametrize(
    ("device", "sim", "extra"),
    [
        ("kiln1", lambda: Eurotherm3200Sim(SimOptions(flask="small")), ["ranges"]),
        ("caster1.crucible", OmronE5ccSim, []),
        ("caster1.io", lambda: IoModuleSim(IO_SET_UP), []),
        ("caster1.drive", DeltaVfdSim, []),
    ],
)
async def test_each_family_passes_against_its_simulator(tmp_path, device, sim, extra) -> None:
    record, seen = await run(tmp_path, device, sim())
    assert record.passed, [c for c in record.checks if not c.passed]
    assert seen == record.checks  # each check reported as it was made
    names = [c.name for c in record.checks]
    assert names == ORDER[:2] + extra + ORDER[2:]
    assert record.device == device and record.who == "tester"
    assert record.identity  # what the unit said about itself
    turnaround = check(record, "turnaround").measured
    assert turnaround["replies"] == check(record, "registers").measured["read"]


async def test_a_eurotherm_that_never_falls_back_fails_the_lease(tmp_path) -> None:
    stuck = Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=1e6))
    record, _ = await run(tmp_path, "kiln1", stuck)
    lease = check(record, "lease")
    assert not lease.passed and not record.passed
    assert "NOT set" in lease.detail
    assert lease.measured["working_sp_dc"] == 100  # still the probe, 10.0 °C: no fallback


async def test_in_programmer_mode_the_fallback_is_reported_not_required(tmp_path) -> None:
    stuck = Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=1e6))
    stuck.bank.set("target_sp", 300.0)  # the EEPROM SP a programmer-mode kiln keeps
    text = SITE.replace('mode = "stream"', 'mode = "programmer"')
    record, _ = await run(tmp_path, "kiln1", stuck, text)
    lease = check(record, "lease")
    assert lease.passed and "programmer mode" in lease.detail and "NOT set" in lease.detail
    assert "remote SP 310 °C taken" in lease.detail  # probed above the SP it would fall back to
    assert stuck.eeprom_writes == 0  # programmer mode: its target SP is left as it is


async def test_in_stream_mode_the_fallback_sp_is_armed_once(tmp_path) -> None:
    sim = Eurotherm3200Sim(SimOptions(flask="small"))
    sim.bank.set("target_sp", 300.0)
    record, _ = await run(tmp_path, "kiln1", sim)
    assert check(record, "lease").passed
    assert sim.eeprom_writes == 1 and sim.bank.get("target_sp") == 0.0  # the site's fallback


async def test_the_lease_waits_the_configured_lease_in_clock_time(tmp_path) -> None:
    record, _ = await run(tmp_path, "caster1.io", IoModuleSim(IO_SET_UP))
    lease = check(record, "lease")
    assert lease.passed
    assert lease.measured["lease_ms"] == 20_000  # io_lease_s of the site
    assert lease.measured["silent_ms"] == 22_000  # the lease and 10 % more


async def test_an_io_module_left_unsafe_by_its_watchdog_fails_the_lease(tmp_path) -> None:
    class HalfWatchdog(IoModuleSim):
        """Raises its flag but leaves the vent closed."""

        def step_to(self, now: float) -> None:
            super().step_to(now)
            if self.watchdog_tripped:
                self.bank.set("vent_valve", not SAFE["vent_valve"])

    record, _ = await run(tmp_path, "caster1.io", HalfWatchdog(IO_SET_UP))
    lease = check(record, "lease")
    assert not lease.passed and "coils NOT safe: vent_valve" in lease.detail
    assert "flag (40216) set" in lease.detail


async def test_a_unit_that_is_not_the_one_named_gets_no_write(tmp_path) -> None:
    sim = Eurotherm3200Sim(SimOptions(flask="small"))
    sim.bank.set("decimals", 0)
    cfg, clock = site(tmp_path), VirtualClock()
    async with links_to(cfg, {"kiln_link": sim}, clock) as (links, wires):
        record = await commission_device(cfg, "kiln1", access=links, clock=clock)
    assert [c.name for c in record.checks if not c.passed] == ["identity", "inhibit"]
    assert "not tried" in check(record, "inhibit").detail
    assert wires["kiln_link"].writes == []


async def test_a_running_programmer_is_refused_before_any_write(tmp_path) -> None:
    sim = Eurotherm3200Sim(SimOptions(flask="small"))
    sim.bank.set("tstat", TStat.RUN)
    cfg, clock = site(tmp_path), VirtualClock()
    async with links_to(cfg, {"kiln_link": sim}, clock) as (links, wires):
        with pytest.raises(Refused, match=r"programmer is in RUN"):
            await commission_device(cfg, "kiln1", access=links, clock=clock)
    assert wires["kiln_link"].writes == []


async def test_a_device_that_cannot_be_made_safe_gets_no_further_check(tmp_path) -> None:
    class Deaf(DeltaVfdSim):
        """Acknowledges writes to the command word but keeps running."""

        def __init__(self) -> None:
            super().__init__()
            self.bank.set("command", 0x12)  # RUN | FWD

        def step_to(self, now: float) -> None:
            super().step_to(now)
            self.bank.set("command", 0x12)

    record, _ = await run(tmp_path, "caster1.drive", Deaf())
    assert [c.name for c in record.checks] == ["registers", "identity", "inhibit"]
    inhibit = record.checks[-1]
    assert not record.passed
    assert "wrote 1 to command, read back 18" in inhibit.detail
    assert "nothing else was tried" in inhibit.detail


async def test_drive_comm_loss_settings_are_read_back(tmp_path) -> None:
    record, _ = await run(tmp_path, "caster1.drive", DeltaVfdSim())
    lease = check(record, "lease")
    assert lease.measured == {"treatment": 1, "timeout_ms": 5000}


async def test_the_e5cc_has_no_lease_and_says_so(tmp_path) -> None:
    record, _ = await run(tmp_path, "caster1.crucible", OmronE5ccSim())
    assert "no host watchdog" in check(record, "lease").detail
    assert "write-only, not read: command" in check(record, "registers").detail
