"""Commissioning the caster's I/O module against its simulator: labctl reads the comm safety the
module was given (DCON ``$AAX0``) and writes none of it; the lease shows whether it fits."""

from __future__ import annotations

from pathlib import Path

from drivers._modbus.registers import Table
from drivers.clock import VirtualClock
from drivers.iomodule.dcon import CommSafety
from drivers.iomodule.sim import IoModuleOptions, IoModuleSim
from labctl.commission.iomodule import NO_TOGGLE
from labctl.commission.runner import commission_device
from labctl.ledger.ops_records import Commissioning
from tests.labctl.commission.support import SimWire, links_to, site


async def run(tmp: Path, sim: IoModuleSim) -> tuple[Commissioning, SimWire]:
    cfg, clock = site(tmp), VirtualClock()
    async with links_to(cfg, {"io_link": sim}, clock) as (links, wires):
        record = await commission_device(cfg, "caster1.io", access=links, clock=clock)
    return record, wires["io_link"]


def detail(record: Commissioning, name: str) -> str:
    (found,) = [c for c in record.checks if c.name == name]
    return found.detail


async def test_a_configured_module_passes_and_only_coils_are_written(tmp_path) -> None:
    sim = IoModuleSim(IoModuleOptions(comm_safety=CommSafety(20.0)))  # the site's io_lease_s
    record, wire = await run(tmp_path, sim)
    assert record.passed, record.checks
    assert {table for table, _, _ in wire.writes} == {Table.COIL}  # never 40215-40217
    assert "comm safety enabled (40215 = 1)" in detail(record, "identity")
    assert detail(record, "writes") == NO_TOGGLE
    assert "tripped within 22 s" in detail(record, "lease")


async def test_comm_safety_off_fails_identity_and_nothing_is_written(tmp_path) -> None:
    record, wire = await run(tmp_path, IoModuleSim(IoModuleOptions(comm_safety_enabled=False)))
    assert [c.name for c in record.checks if not c.passed] == ["identity", "inhibit"]
    identity = detail(record, "identity")
    assert "comm safety not enabled (40215 = 0): the lease is not armed" in identity
    assert "$01X000C804" in identity and "`labctl commission`" in identity  # 20 s, vent open
    assert wire.writes == []


async def test_a_timeout_longer_than_the_lease_fails_the_lease_with_the_numbers(
    tmp_path,
) -> None:
    sim = IoModuleSim(IoModuleOptions(comm_safety=CommSafety(30.0)))  # site: io_lease_s = 20
    record, _ = await run(tmp_path, sim)
    assert [c.name for c in record.checks if not c.passed] == ["lease"]
    lease = detail(record, "lease")
    assert "flag (40216) NOT set, it did NOT trip within 22 s" in lease
    assert "longer than io_lease_s 20 s plus the margin" in lease and "$01X000C804" in lease
    assert "coils NOT safe: vent_valve" in lease
    assert sim.coils.vent_valve  # driven safe again at the end
