"""The real pymodbus client and server on loopback, through the fault-injecting links."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drivers._modbus.bank import RegisterBank
from drivers._modbus.pymodbus_wire import PymodbusWire, serve_units
from drivers._modbus.registers import Table
from drivers._modbus.transport import SerialLine, TcpEndpoint
from drivers._sim.links import Faults, PtyLink, TcpFaultProxy
from drivers.errors import DeviceRejected, DeviceTimeout, FramingError, LinkDown
from drivers.eurotherm3200.registers import MAP


def _bank() -> RegisterBank:
    bank = RegisterBank(MAP)
    bank.set("pv", 732.5)
    bank.set("decimals", 1)
    return bank


async def test_tcp_read_write_and_exception_codes() -> None:
    bank = _bank()
    async with serve_units({1: bank}, tcp=("127.0.0.1", 0)) as port:
        assert port is not None
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.5)
        await wire.connect()
        try:
            assert await wire.read(Table.HOLDING, 1, 1, 1) == [7325]  # address 1 is PV
            await wire.write(Table.HOLDING, 26, [5000], 1)  # remote SP 500.0 °C
            assert bank.get("remote_sp") == 500.0
            with pytest.raises(DeviceRejected) as caught:
                await wire.read(Table.HOLDING, 60000, 2, 1)
            assert caught.value.code == 2
            with pytest.raises(DeviceRejected) as caught:
                await wire.write(Table.HOLDING, 1, [1], 1)  # PV is read-only
            assert caught.value.code == 3
            with pytest.raises(DeviceRejected):
                await wire.write(Table.HOLDING, 26, [20000], 1)  # 2000 °C: over the limit
        finally:
            await wire.close()


async def test_silent_and_dropped_links_map_to_driver_errors() -> None:
    faults = Faults()
    async with (
        serve_units({1: _bank()}, tcp=("127.0.0.1", 0)) as port,
        TcpFaultProxy(port or 0, faults) as proxy,
    ):
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=proxy.port), timeout_s=0.3)
        await wire.connect()
        faults.silent = True
        started = time.monotonic()
        with pytest.raises((DeviceTimeout, LinkDown)):
            await wire.read(Table.HOLDING, 1, 1, 1)
        assert time.monotonic() - started < 2.0
        await wire.close()
        faults.silent, faults.link_down = False, True

        async def connect_and_read() -> None:
            await wire.connect()
            await wire.read(Table.HOLDING, 1, 1, 1)

        with pytest.raises((LinkDown, DeviceTimeout)):  # refused, or closed right away
            await connect_and_read()
        await wire.close()


async def test_rtu_over_a_pty_pair(tmp_path: Path) -> None:
    faults = Faults()
    link = tmp_path / "ttyKILN"
    async with (
        PtyLink(faults, link_path=str(link)) as pty,
        serve_units({3: _bank()}, serial_port=pty.sim_path, baudrate=115200),
    ):
        wire = PymodbusWire(SerialLine(port=str(link), baudrate=115200), timeout_s=0.3)
        await wire.connect()
        try:
            assert await wire.read(Table.HOLDING, 1, 1, 3) == [7325]
            faults.corrupt_crc = True
            with pytest.raises((FramingError, DeviceTimeout)):
                await wire.read(Table.HOLDING, 1, 1, 3)
        finally:
            await wire.close()
    assert not link.exists()
