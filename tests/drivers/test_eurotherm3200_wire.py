"""The simulated 3216 on the wire as the manuals describe it, checked with raw frames.

Each test failed against the simulator as it was before issue 13: it answered block reads over
addresses the 3200 handbook does not list, had no fast status (FC07) or float region, refused
an FC16 block over unconfigured words, and answered every function pymodbus knows.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers._modbus.bus import ModbusBus
from drivers._modbus.plan import plan_map_reads, plan_reads
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.registers import Poll, Table
from drivers._modbus.transport import TcpEndpoint
from drivers.clock import VirtualClock
from drivers.eurotherm3200 import IDENTITY, MAP, Eurotherm3200
from drivers.eurotherm3200.bank import float_address
from drivers.eurotherm3200.registers import LoopMode, Status
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from tests.drivers.modbus_frames import rtu_transact, tcp_transact

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS = 1, 2


def _read(address: int, count: int) -> bytes:
    return struct.pack(">BHH", 3, address, count)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Eurotherm3200Sim, int]]:
    sim = Eurotherm3200Sim(SimOptions(start_temp_c=412.0))
    async with sim.serving(clock=VirtualClock(), tcp_port=0) as endpoint:
        assert endpoint.port is not None
        yield sim, endpoint.port


async def test_block_reads_over_unlisted_addresses_are_refused(
    served: tuple[Eurotherm3200Sim, int],
) -> None:
    _, port = served
    for address, count in [(1, 26), (1, 10), (16, 7), (259, 14), (273, 4)]:  # 10, 20, 22, 274...
        assert await tcp_transact(port, 1, _read(address, count)) == bytes(
            [0x83, ILLEGAL_ADDRESS]
        ), (address, count)
    reply = await tcp_transact(port, 1, _read(1, 9))  # 1-9 are all in HA028651 p.81
    assert reply is not None and reply[:2] == bytes([3, 18])


async def test_the_driver_polls_the_strict_unit_at_a_fill_of_50(
    served: tuple[Eurotherm3200Sim, int],
) -> None:
    sim, port = served
    clock = VirtualClock()
    wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.5)
    bus = ModbusBus(wire, name="kiln-line", clock=clock, timeout_s=0.5)
    device = bus.device(name="kiln1", unit=1, regmap=MAP, identity=IDENTITY, max_fill_registers=50)
    task = asyncio.create_task(bus.run())
    try:
        kiln = Eurotherm3200(device)
        await kiln.connect()
        sim.step_to(0.0)
        sim.step_to(1.0)
        reading = await kiln.read()
        assert reading.pv_c == pytest.approx(412.0, abs=0.5)
        assert reading.manual
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_old_plan_at_a_fill_of_50_gets_no_reading_from_a_strict_unit(
    served: tuple[Eurotherm3200Sim, int],
) -> None:
    _, port = served
    old = plan_reads(MAP.polled(Poll.FAST), max_block=125, max_fill=50)  # no map: any gap
    refused = [b for b in old if len(b.registers) > 1]
    assert [(b.address, b.count) for b in refused] == [(1, 23), (258, 19)]
    for block in refused:
        reply = await tcp_transact(port, 1, _read(block.address, block.count))
        assert reply == bytes([0x83, ILLEGAL_ADDRESS])


def test_the_plan_spans_documented_addresses_only() -> None:
    names = [r.name for r in MAP.polled(Poll.FAST, Poll.SLOW)] + list(IDENTITY)
    blocks = plan_map_reads(MAP, names, max_block=125, max_fill=50)
    for block in blocks:
        if len(block.registers) > 1:
            span = range(block.address, block.address + block.count)
            assert all(MAP.is_documented(Table.HOLDING, a) for a in span), block
    assert {r.name for b in blocks for r in b.registers} == set(names)
    assert "inst_id" not in {r.name for r in MAP}  # 122 is the 2400's controller ID
    assert all(MAP[name].documented for name in IDENTITY)


async def test_fc07_answers_the_fast_status_byte(served: tuple[Eurotherm3200Sim, int]) -> None:
    sim, port = served
    sim.step_to(0.0)
    sim.step_to(1.0)  # power-on: manual mode
    reply = await tcp_transact(port, 1, bytes([7]))
    assert reply == bytes([7, int(Status.MANUAL)])
    sim.backdoor.thermocouple_open = True
    sim.step_to(2.0)
    assert await tcp_transact(port, 1, bytes([7])) == bytes(
        [7, int(Status.MANUAL | Status.SENSOR_BREAK)]
    )  # 0x30: HA026230's own FC07 example, "sensor break + manual"


async def test_fc16_over_unconfigured_words_writes_the_rest(
    served: tuple[Eurotherm3200Sim, int],
) -> None:
    sim, port = served
    # 24, 25 (SP1, SP2) are listed but not modelled, 26 is the remote SP: 500.0 °C
    request = struct.pack(">BHHB3H", 16, 24, 3, 6, 1111, 2222, 5000)
    assert await tcp_transact(port, 1, request) == struct.pack(">BHH", 16, 24, 3)
    assert sim.bank.get("remote_sp") == 500.0
    single = struct.pack(">BHH", 6, 24, 1)  # a single word where nothing is configured
    assert await tcp_transact(port, 1, single) == bytes([0x86, ILLEGAL_ADDRESS])


async def test_the_ieee_float_region(served: tuple[Eurotherm3200Sim, int]) -> None:
    sim, port = served
    sim.bank.set("pv", 732.5)
    sim.bank.set("loop_mode", LoopMode.MANUAL)
    reply = await tcp_transact(port, 1, _read(float_address(1), 2))  # PV at 0x8002
    assert reply == bytes([3, 4]) + struct.pack(">f", 732.5)  # most significant word first
    reply = await tcp_transact(port, 1, _read(float_address(273), 2))
    assert reply == bytes([3, 4, 0, 1, 0x80, 0])  # an integer: first word, then 0x8000
    write = struct.pack(">BHHB", 16, float_address(26), 2, 4) + struct.pack(">f", 455.5)
    assert await tcp_transact(port, 1, write) == struct.pack(">BHH", 16, float_address(26), 2)
    assert sim.bank.get("remote_sp") == 455.5
    odd = await tcp_transact(port, 1, _read(float_address(1) + 1, 2))
    assert odd == bytes([0x83, ILLEGAL_ADDRESS])


async def test_unsupported_functions_get_exception_01_over_tcp(
    served: tuple[Eurotherm3200Sim, int],
) -> None:
    _, port = served
    device_id = bytes([0x2B, 0x0E, 0x01, 0x00])  # FC43 read device identification
    reply = await tcp_transact(port, 1, device_id)
    assert reply == bytes([0xAB, ILLEGAL_FUNCTION])
    assert await tcp_transact(port, 1, bytes([0x11])) == bytes([0x91, ILLEGAL_FUNCTION])


async def test_unsupported_functions_get_no_reply_on_rtu(tmp_path: Path) -> None:
    sim = Eurotherm3200Sim()
    link = tmp_path / "ttyKILN"
    async with sim.serving(clock=VirtualClock(), pty_link=link, unit=2):
        unsupported = [
            bytes([0x2B, 0x0E, 0x01, 0x00]),  # device identification: no "Pymodbus" reply
            bytes([0x11]),  # report server id
            bytes([0x08, 0, 1, 0, 0]),  # diagnostics: restart communications
            bytes([0x41, 1, 2, 3]),  # no such function: pymodbus cannot even size the frame
        ]
        for pdu in unsupported:
            assert await rtu_transact(str(link), 2, pdu) is None, pdu.hex()  # silent
            reply = await rtu_transact(str(link), 2, _read(1, 1))  # and the next one answered
            assert reply is not None and reply[:2] == bytes([3, 2]), pdu.hex()
        echo = bytes([0x08, 0, 0, 0x12, 0x34])  # diagnostics 0: return query data
        assert await rtu_transact(str(link), 2, echo) == echo
        reply = await rtu_transact(str(link), 2, _read(11, 2))
        assert reply == bytes([3, 4, 0, 0, 0x2E, 0xE0])  # RNG.LO 0.0, RNG.HI 1200.0
