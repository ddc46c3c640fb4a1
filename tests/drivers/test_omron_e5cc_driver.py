"""Omron E5CC: the driver against the simulator through the bus (an in-memory wire over the
sim's bank, and real loopback Modbus TCP and RTU frames)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.bus import ModbusBus
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.registers import Table
from drivers._modbus.transport import TcpEndpoint
from drivers.capabilities import EndAction
from drivers.clock import ScaledClock, VirtualClock
from drivers.errors import ConfigurationError, DeviceRejected, WriteNotVerified
from drivers.omron_e5cc import IDENTITY, MAP, OmronE5cc
from drivers.omron_e5cc.registers import Command
from drivers.omron_e5cc.sim import OmronE5ccSim, SimOptions
from tests.drivers.modbus_frames import rtu_transact, tcp_transact


class BankWire:
    """A Wire straight onto a simulator's bank: exception replies as the server sends them."""

    def __init__(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.connected = False
        self.writes: list[tuple[int, tuple[int, ...]]] = []
        self.drop_commands = False  # acknowledge commands but do nothing

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        await asyncio.sleep(0)
        try:
            return self.bank.read(table, address, count)
        except BankError as err:
            raise DeviceRejected(str(err), code=err.code) from None

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        await asyncio.sleep(0)
        self.writes.append((address, tuple(values)))
        if self.drop_commands and address == 0:
            return
        try:
            self.bank.write(table, address, values)
        except BankError as err:
            raise DeviceRejected(str(err), code=err.code) from None


@dataclass
class Rig:
    sim: OmronE5ccSim
    wire: BankWire
    ctl: OmronE5cc


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = OmronE5ccSim(SimOptions(start_temp_c=600.0))
    wire = BankWire(sim.bank)
    clock = VirtualClock()
    bus = ModbusBus(wire, name="caster", clock=clock, timeout_s=0.5)
    dev = bus.device(name="crucible", unit=1, regmap=MAP, identity=IDENTITY)
    ctl = OmronE5cc(dev, safe_sp_c=20.0)
    tasks = [asyncio.create_task(bus.run()), asyncio.create_task(clock.autojump())]
    await ctl.connect()
    yield Rig(sim, wire, ctl)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_arm_enables_writing_first_then_streams_in_ram(rig: Rig):
    await rig.ctl.arm_stream(fallback_sp_c=100.0)
    assert rig.wire.writes[0] == (0x0000, (0x0001,))  # communications writing enable
    assert rig.wire.writes[1] == (0x0000, (0x0401,))  # RAM write mode before any SP
    assert rig.sim.ram_mode and not rig.sim.stopped and not rig.sim.manual
    for sp in range(900, 1000, 2):
        await rig.ctl.stream_setpoint(float(sp))
    assert rig.sim.sp_c == 998.0
    assert rig.sim.eeprom_writes == 0
    rig.sim.step_to(0.0)
    rig.sim.step_to(30.0)
    reading = await rig.ctl.read()
    assert reading.working_sp_c == 998.0 and reading.output_pct == 100.0
    assert reading.pv_c == pytest.approx(rig.sim.pv_c, abs=0.5)
    assert not reading.remote_sp_fail and not reading.sensor_break


async def test_arm_again_sends_only_what_changed(rig: Rig):
    await rig.ctl.arm_stream(fallback_sp_c=100.0)
    before = len(rig.wire.writes)
    await rig.ctl.arm_stream(fallback_sp_c=100.0)
    assert rig.wire.writes[before:] == [(0x2103, (100,))]


async def test_safe_state_stops_and_survives_a_power_cycle(rig: Rig):
    await rig.ctl.arm_stream(fallback_sp_c=100.0)
    await rig.ctl.stream_setpoint(1000.0)
    rig.sim.step_to(0.0)
    rig.sim.step_to(10.0)
    assert rig.sim.output_pct > 0
    await rig.ctl.safe_state()
    rig.sim.step_to(11.0)
    assert rig.sim.stopped and rig.sim.output_pct == 0.0 and rig.sim.sp_c == 20.0
    assert rig.sim.eeprom_writes == 1  # the stored STOP, nothing else
    rig.sim.backdoor.reboot()
    assert rig.sim.stopped


async def test_a_reboot_while_streaming_is_refused_not_ignored(rig: Rig):
    await rig.ctl.arm_stream(fallback_sp_c=100.0)
    rig.sim.backdoor.reboot()
    with pytest.raises(DeviceRejected) as caught:
        await rig.ctl.stream_setpoint(1000.0)
    assert caught.value.code == 4


async def test_command_without_effect_is_not_verified(rig: Rig):
    rig.wire.drop_commands = True
    with pytest.raises(WriteNotVerified, match="WRITE_ENABLE"):
        await rig.ctl.arm_stream(fallback_sp_c=100.0)


async def test_sensor_break_and_ad_error_read_as_no_measurement(rig: Rig):
    rig.sim.backdoor.open_thermocouple()
    rig.sim.step_to(0.0)
    rig.sim.step_to(1.0)
    reading = await rig.ctl.read()
    assert reading.sensor_break and reading.pv_c is None
    rig.sim.backdoor.open_thermocouple(False)
    rig.sim.backdoor.ad_converter_error()
    rig.sim.step_to(2.0)
    assert (await rig.ctl.read()).pv_c is None


async def test_no_programmer(rig: Rig):
    assert rig.ctl.has_programmer is False
    await rig.ctl.reset_program()  # nothing to reset
    for call in (rig.ctl.run_program, rig.ctl.hold_program, rig.ctl.resume_program):
        with pytest.raises(ConfigurationError, match="E5CC"):
            await call()
    with pytest.raises(ConfigurationError, match="E5CC"):
        await rig.ctl.download_program([], holdback_band_c=5.0, end=EndAction.DWELL)


async def test_connect_refuses_another_decimal_point():
    sim = OmronE5ccSim()
    sim.bank.set("decimal_point", 1)
    bus = ModbusBus(BankWire(sim.bank), name="caster", clock=VirtualClock(), timeout_s=0.5)
    ctl = OmronE5cc(bus.device(name="crucible", unit=1, regmap=MAP, identity=IDENTITY))
    task = asyncio.create_task(bus.run())
    try:
        with pytest.raises(ConfigurationError, match="decimal point"):
            await ctl.connect()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_over_real_loopback_modbus_tcp():
    sim = OmronE5ccSim(SimOptions(start_temp_c=880.0))
    clock = ScaledClock(50.0)
    async with sim.serving(clock=clock, tcp_port=0) as endpoint:
        assert endpoint.port is not None
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=endpoint.port), timeout_s=0.5)
        bus = ModbusBus(wire, name="caster", clock=clock, timeout_s=0.5)
        ctl = OmronE5cc(bus.device(name="crucible", unit=1, regmap=MAP, identity=IDENTITY))
        task = asyncio.create_task(bus.run())
        try:
            await ctl.connect()
            await ctl.arm_stream(fallback_sp_c=100.0)
            await ctl.stream_setpoint(1000.0)
            await asyncio.sleep(0.3)  # 15 simulated seconds of heating
            reading = await ctl.read()
            assert reading.working_sp_c == 1000.0 and reading.output_pct == 100.0
            assert reading.pv_c is not None and reading.pv_c > 880.0
            await ctl.safe_state()
            assert sim.stopped and sim.eeprom_writes == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await wire.close()


async def test_fc06_on_the_command_register_echoes_the_request() -> None:
    sim = OmronE5ccSim()
    async with sim.serving(clock=VirtualClock(), tcp_port=0) as endpoint:
        assert endpoint.port is not None
        enable = struct.pack(">BHH", 6, 0x0000, Command.WRITE_ENABLE)
        assert await tcp_transact(endpoint.port, 1, enable) == enable  # minimalmodbus checks it
        assert sim.writes_enabled
        stop = struct.pack(">BHH", 6, 0x0000, Command.STOP)
        assert await tcp_transact(endpoint.port, 1, stop) == stop
        assert sim.stopped


async def test_e5cc_answers_only_its_function_codes_and_reads_listed_words() -> None:
    sim = OmronE5ccSim()
    async with sim.serving(clock=VirtualClock(), tcp_port=0) as endpoint:
        port = endpoint.port or 0
        assert await tcp_transact(port, 1, bytes([0x2B, 0x0E, 0x01, 0x00])) == bytes([0xAB, 1])
        reply = await tcp_transact(port, 1, struct.pack(">BHH", 3, 0x2000, 6))  # p.5-2 block
        assert reply is not None and reply[:2] == bytes([3, 12])
        assert await tcp_transact(port, 1, struct.pack(">BHH", 3, 0x2006, 1)) == bytes([0x83, 2])


async def test_e5cc_on_rtu_answers_an_unsupported_function_with_exception_01(
    tmp_path: Path,
) -> None:
    sim = OmronE5ccSim()
    link = tmp_path / "ttyCASTER"
    async with sim.serving(clock=VirtualClock(), pty_link=link, unit=3):
        device_id = bytes([0x2B, 0x0E, 0x01, 0x00])  # H175 §4-1-3: error code 1, function code
        assert await rtu_transact(str(link), 3, device_id) == bytes([0xAB, 1])
        reply = await rtu_transact(str(link), 3, struct.pack(">BHH", 3, 0x2000, 1))
        assert reply is not None and reply[:2] == bytes([3, 2])


async def test_e5cc_answers_the_echoback_test_with_its_test_data() -> None:
    sim = OmronE5ccSim()
    async with sim.serving(clock=VirtualClock(), tcp_port=0) as endpoint:
        echoback = struct.pack(">BHH", 8, 0x0000, 0x1234)  # H175 §4-4-4 p.4-15's example
        assert await tcp_transact(endpoint.port or 0, 1, echoback) == echoback
