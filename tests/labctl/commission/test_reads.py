"""Planned blocks narrowed where the unit refuses one, and turnaround against the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drivers._modbus.bus import ModbusBus
from drivers._modbus.device import ModbusDevice
from drivers._modbus.fake_wire import FakeWire
from drivers._modbus.registers import DocumentedSpan, Register, RegisterMap, Table
from drivers.clock import VirtualClock
from labctl.commission.checks import CheckList, Timings
from labctl.commission.modbus_reads import read_blocks, read_each

#: Registers at 1, 2, 10 and 30 and a manual that lists 1..30; the fake unit answers the four
#: registers only (exception 02 elsewhere), as a unit whose manual is wrong would.
MAP = RegisterMap(
    (Register(name=f"r{a}", address=a) for a in (1, 2, 10, 30)),
    documented=[DocumentedSpan(Table.HOLDING, 1, 30, ref="a manual")],
)


@pytest.fixture
async def unit() -> AsyncIterator[tuple[ModbusDevice, FakeWire]]:
    wire = FakeWire({Table.HOLDING: {1: 11, 2: 12, 10: 20, 30: 40}})
    bus = ModbusBus(wire, name="line", clock=VirtualClock(), timeout_s=0.5)
    device = bus.device(name="dev1", unit=1, regmap=MAP, max_fill_registers=50)
    task = asyncio.create_task(bus.run())
    await device.wait_connected(1.0)
    yield device, wire
    task.cancel()


async def test_a_refused_block_is_narrowed_to_the_fill_that_reads(unit) -> None:
    device, wire = unit
    checks = CheckList()
    await read_blocks(device, {"all": ("r1", "r2", "r10", "r30")}, checks)
    (blocks,) = checks.checks
    assert not blocks.passed
    assert "holding 1+30" in blocks.detail
    # the gaps are 7 (3..9) and 19 (11..29): fill 18 still spans 3..9, fill 6 reads
    assert "max_fill_registers = 6" in blocks.detail
    assert blocks.measured == {"blocks": 1, "refused": 1, "max_fill": 50}
    assert (1, 2) in {(c.address, c.count) for c in wire.reads()}  # the narrowed part read


async def test_blocks_that_read_pass_and_count(unit) -> None:
    device, _ = unit
    device.max_fill = 0
    checks = CheckList()
    await read_blocks(device, {"all": ("r1", "r2", "r10", "r30"), "again": ("r1",)}, checks)
    (blocks,) = checks.checks
    assert blocks.passed and blocks.measured["blocks"] == 4  # 1..2, 10, 30 and 1 alone


async def test_every_register_is_read_alone_and_a_refusal_is_named(unit) -> None:
    device, wire = unit
    del wire.tables[Table.HOLDING][10]
    checks, timings = CheckList(), Timings()
    values = await read_each(device, (), checks, timings)
    assert values == {"r1": 11, "r2": 12, "r30": 40}
    (registers,) = checks.checks
    assert not registers.passed and "r10 (holding 10)" in registers.detail
    assert [(c.address, c.count) for c in wire.reads()] == [(1, 1), (2, 1), (10, 1), (30, 1)]
    assert len(timings.samples_us) == 3  # only answered requests are timed


@pytest.mark.parametrize(("worst_us", "passed"), [(250_000, True), (250_001, False)])
def test_turnaround_must_stay_within_half_the_timeout(worst_us, passed) -> None:
    checks = CheckList()
    Timings([1000, 3000, worst_us]).report(checks, timeout_s=0.5)
    (turnaround,) = checks.checks
    assert turnaround.passed is passed
    assert turnaround.measured == {
        "median_us": 3000, "max_us": worst_us, "replies": 3, "timeout_ms": 500,
    }  # fmt: skip


def test_no_reply_is_no_turnaround() -> None:
    checks = CheckList()
    Timings().report(checks, timeout_s=1.0)
    assert not checks.checks[0].passed


def test_a_long_detail_and_identity_are_cut_to_what_the_record_holds() -> None:
    checks = CheckList()
    checks.add("registers", False, "refused: " + "x" * 600)
    checks.identity["TID"], checks.firmware = "P" * 150, "V" * 120
    (registers,) = checks.checks
    assert len(registers.detail) == 500 and registers.detail.endswith("…")
    identity, firmware = checks.said()
    assert identity == {"TID": "P" * 100} and firmware == "V" * 100
