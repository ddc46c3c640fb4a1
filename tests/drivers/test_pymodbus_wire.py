"""The real pymodbus client and server on loopback, through the fault-injecting links."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.codecs import FLOAT32, INT16, UINT32
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.pymodbus.server import serve_units
from drivers._modbus.registers import Register, RegisterMap, Table
from drivers._modbus.transport import SerialLine, TcpEndpoint
from drivers._sim.links import Faults, PtyLink, TcpFaultProxy
from drivers.errors import ConfigurationError, DeviceRejected, DeviceTimeout, FramingError, LinkDown
from drivers.eurotherm3200.registers import MAP as EUROTHERM
from tests.drivers.modbus_frames import tcp_transact

MAP = RegisterMap(
    [
        Register(name="pv", address=1, codec=INT16, decimals=1),
        Register(name="sp", address=2, codec=INT16, decimals=1, writable=True, limits=(0, 1200)),
        Register(name="total", address=10, codec=UINT32, writable=True),
        Register(name="gain", address=12, codec=FLOAT32, writable=True),
        Register(name="raw0", address=0, table=Table.INPUT),
        Register(name="raw1", address=1, table=Table.INPUT),
        Register(name="run", address=0, table=Table.COIL, writable=True),
        Register(name="vent", address=1, table=Table.COIL, writable=True),
        Register(name="door", address=5, table=Table.DISCRETE),
    ]
)


def _bank() -> RegisterBank:
    bank = RegisterBank(MAP)
    bank.set("pv", 732.5)
    bank.set("raw0", 11)
    bank.set("raw1", 22)
    bank.set("door", 1)
    return bank


@pytest.fixture
async def tcp_wire() -> AsyncIterator[tuple[PymodbusWire, RegisterBank]]:
    bank = _bank()
    async with serve_units({1: bank}, tcp=("127.0.0.1", 0)) as port:
        assert port
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.5)
        await wire.connect()
        try:
            yield wire, bank
        finally:
            await wire.close()


async def test_each_table_reads_and_writes_at_the_wire_address(
    tcp_wire: tuple[PymodbusWire, RegisterBank],
) -> None:
    wire, bank = tcp_wire
    assert wire.connected
    assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]  # address N is bank address N
    assert await wire.read(Table.INPUT, 0, 2, 1) == [11, 22]
    assert await wire.read(Table.DISCRETE, 5, 1, 1) == [1]
    assert await wire.read(Table.COIL, 0, 2, 1) == [0, 0]
    await wire.write(Table.HOLDING, 2, [5000], 1)  # FC6
    assert bank.get("sp") == 500.0
    await wire.write(Table.HOLDING, 10, [0x1234, 0x5678, *FLOAT32.encode(1.5)], 1)  # FC16
    assert bank.get("total") == 0x12345678
    assert bank.get("gain") == 1.5
    await wire.write(Table.COIL, 1, [1], 1)  # FC5
    assert await wire.read(Table.COIL, 0, 2, 1) == [0, 1]
    await wire.write(Table.COIL, 0, [1, 0], 1)  # FC15
    assert (bank.get("run"), bank.get("vent")) == (1.0, 0.0)
    with pytest.raises(ConfigurationError):
        await wire.write(Table.INPUT, 0, [1], 1)


@pytest.mark.parametrize(
    ("table", "address", "count"), [(Table.HOLDING, 60000, 2), (Table.INPUT, 2, 1)]
)
async def test_reads_outside_the_map_are_illegal_address(
    tcp_wire: tuple[PymodbusWire, RegisterBank], table: Table, address: int, count: int
) -> None:
    wire, _ = tcp_wire
    with pytest.raises(DeviceRejected) as caught:
        await wire.read(table, address, count, 1)
    assert caught.value.code == 2
    assert wire.connected


@pytest.mark.parametrize(
    ("address", "values", "code"),
    [
        (3, [1], 2),  # nothing there
        (10, [1], 2),  # half of a 32-bit register
        (1, [1], 3),  # PV is read-only
        (2, [20000], 3),  # 2000 °C: over the limit
    ],
)
async def test_refused_writes_map_to_device_rejected(
    tcp_wire: tuple[PymodbusWire, RegisterBank], address: int, values: list[int], code: int
) -> None:
    wire, _ = tcp_wire
    with pytest.raises(DeviceRejected) as caught:
        await wire.write(Table.HOLDING, address, values, 1)
    assert caught.value.code == code
    assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]  # the link is still fine


async def test_model_hook_refusal_and_unknown_unit(
    tcp_wire: tuple[PymodbusWire, RegisterBank],
) -> None:
    wire, bank = tcp_wire

    def refuse(name: str, value: float) -> None:
        raise BankError(3)

    bank.on_write = refuse
    with pytest.raises(DeviceRejected) as caught:
        await wire.write(Table.HOLDING, 2, [100], 1)
    assert caught.value.code == 3
    assert bank.get("sp") == 0.0
    with pytest.raises(DeviceRejected) as caught:
        await wire.read(Table.HOLDING, 1, 1, 9)
    assert caught.value.code == 0x0B  # gateway: target device failed to respond


async def test_not_connected_and_refused_connections_are_link_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.3)
        with pytest.raises(LinkDown):
            await wire.read(Table.HOLDING, 1, 1, 1)
        with pytest.raises(LinkDown):
            await wire.connect()
    assert not wire.connected
    await wire.close()


async def test_silent_device_times_out_and_the_link_stays_up() -> None:
    faults = Faults()
    async with (
        serve_units({1: _bank()}, tcp=("127.0.0.1", 0)) as port,
        TcpFaultProxy(port or 0, faults) as proxy,
    ):
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=proxy.port), timeout_s=0.2)
        await wire.connect()
        try:
            faults.silent = True
            for _ in range(4):  # more than pymodbus's own "hang up after 3 silences"
                started = time.monotonic()
                with pytest.raises(DeviceTimeout):
                    await wire.read(Table.HOLDING, 1, 1, 1)
                assert 0.15 < time.monotonic() - started < 0.6
                assert wire.connected
            faults.silent = False
            assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]
            faults.delay_s = 0.05  # slow, within the timeout
            assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]
        finally:
            await wire.close()


async def test_dropped_link_is_link_down_without_waiting_for_the_timeout() -> None:
    faults = Faults()
    async with (
        serve_units({1: _bank()}, tcp=("127.0.0.1", 0)) as port,
        TcpFaultProxy(port or 0, faults) as proxy,
    ):
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=proxy.port), timeout_s=5.0)
        await wire.connect()
        try:
            faults.silent = True  # request in flight when the cable is pulled
            pending = asyncio.ensure_future(wire.read(Table.HOLDING, 1, 1, 1))
            await asyncio.sleep(0.05)
            faults.link_down = True
            started = time.monotonic()
            with pytest.raises(LinkDown):
                await pending
            assert time.monotonic() - started < 1.0
            assert not wire.connected

            async def connect_and_read() -> None:
                await wire.connect()  # the proxy accepts, then hangs up at once
                await wire.read(Table.HOLDING, 1, 1, 1)

            with pytest.raises(LinkDown):
                await connect_and_read()
            faults.link_down = faults.silent = False
            await wire.connect()
            assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]
        finally:
            await wire.close()


async def test_rtu_over_a_pty_pair(tmp_path: Path) -> None:
    faults = Faults()
    link = tmp_path / "ttyKILN"
    bank = _bank()
    async with (
        PtyLink(faults, link_path=str(link)) as pty,
        serve_units({3: bank}, serial_port=pty.sim_path, baudrate=115200) as port,
    ):
        assert port is None
        wire = PymodbusWire(SerialLine(port=str(link), baudrate=115200), timeout_s=0.3)
        await wire.connect()
        try:
            assert await wire.read(Table.HOLDING, 1, 1, 3) == [7325]
            await wire.write(Table.HOLDING, 10, [0, 7], 3)
            assert bank.get("total") == 7
            await wire.write(Table.COIL, 1, [1], 3)
            assert await wire.read(Table.COIL, 0, 2, 3) == [0, 1]
            with pytest.raises(DeviceRejected) as caught:
                await wire.read(Table.HOLDING, 100, 1, 3)
            assert caught.value.code == 2
            with pytest.raises(DeviceTimeout):  # nobody at unit 4 on the line
                await wire.read(Table.HOLDING, 1, 1, 4)
            faults.corrupt_crc = True
            with pytest.raises(FramingError):  # bytes came back, none of it a valid reply
                await wire.read(Table.HOLDING, 1, 1, 3)
            faults.corrupt_crc, faults.silent = False, True
            with pytest.raises(DeviceTimeout):
                await wire.read(Table.HOLDING, 1, 1, 3)
            faults.silent = False
            assert await wire.read(Table.INPUT, 0, 2, 3) == [11, 22]
        finally:
            await wire.close()
    assert not link.exists()


async def test_eurotherm_map_on_the_wire() -> None:
    bank = RegisterBank(EUROTHERM)
    bank.set("pv", 732.5)
    async with serve_units({1: bank}, tcp=("127.0.0.1", 0)) as port:
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port or 0), timeout_s=0.5)
        await wire.connect()
        try:
            assert await wire.read(Table.HOLDING, EUROTHERM["pv"].address, 1, 1) == [7325]
            await wire.write(Table.HOLDING, EUROTHERM["remote_sp"].address, [5000], 1)
            assert bank.get("remote_sp") == 500.0
        finally:
            await wire.close()


async def test_single_writes_echo_the_request_whatever_the_register_reads_back() -> None:
    bank = _bank()

    def write_only(name: str, value: float) -> None:
        bank.set(name, 0)  # the unit forgets the value at once (a command register)

    bank.on_write = write_only
    async with serve_units({1: bank}, tcp=("127.0.0.1", 0)) as port:
        fc06 = bytes.fromhex("0600021388")  # 500.0 to address 2
        assert await tcp_transact(port or 0, 1, fc06) == fc06
        fc05 = bytes.fromhex("050001ff00")  # coil 1 on
        assert await tcp_transact(port or 0, 1, fc05) == fc05
        assert bank.get("sp") == 0.0 and bank.get("vent") == 0.0
