"""Omron E5CC: golden vectors from H175 (§A.5), the simulator's Omron behaviours, and the driver
against the simulator through the bus (in-memory wire over the sim's bank, and real loopback)."""

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
from drivers.omron_e5cc.driver import decode_reading
from drivers.omron_e5cc.registers import Command, CommandCode, Status, command_word
from drivers.omron_e5cc.sim import OmronE5ccSim, SimOptions
from tests.drivers.modbus_frames import rtu_transact, tcp_transact

# ------------------------------------------------------------------ golden vectors


@pytest.mark.parametrize(
    ("name", "address", "words"),
    [
        ("command", 0x0000, 1),
        ("pv", 0x2000, 1),
        ("status_lo", 0x2001, 1),
        ("internal_sp", 0x2002, 1),
        ("mv_heat", 0x2004, 1),
        ("sp", 0x2103, 1),
        ("status", 0x2406, 2),
        ("decimal_point", 0x2410, 1),
        ("input_type", 0x2C00, 1),
    ],
)
def test_addresses_from_the_manual(name, address, words):
    assert MAP[name].address == address
    assert MAP[name].words == words


@pytest.mark.parametrize(
    ("command", "word"),
    [
        (Command.WRITE_DISABLE, 0x0000),
        (Command.WRITE_ENABLE, 0x0001),
        (Command.RUN, 0x0100),
        (Command.STOP, 0x0101),
        (Command.BACKUP_MODE, 0x0400),
        (Command.RAM_MODE, 0x0401),
        (Command.SOFTWARE_RESET, 0x0600),
        (Command.AUTO, 0x0900),
        (Command.MANUAL, 0x0901),
    ],
)
def test_operation_command_words(command, word):
    assert int(command) == word
    assert MAP["command"].encode(command) == (word,)


def test_command_word_is_code_high_byte_info_low_byte():
    assert command_word(CommandCode.PROGRAM_START, 0x01) == 0x1101
    assert command_word(CommandCode.MULTI_SP, 3) == 0x0203
    with pytest.raises(ValueError):
        command_word(CommandCode.RUN_STOP, 0x100)


@pytest.mark.parametrize(
    ("bit", "value"),
    [
        (Status.AD_ERROR, 1 << 2),
        (Status.INPUT_ERROR, 1 << 6),
        (Status.CONTROL_OUTPUT_HEAT, 1 << 8),
        (Status.PROGRAM_END, 1 << 15),
        (Status.RAM_WRITE_MODE, 1 << 20),
        (Status.STOP, 1 << 24),
        (Status.COMMS_WRITING, 1 << 25),
        (Status.MANUAL, 1 << 26),
    ],
)
def test_status_bits(bit, value):
    assert int(bit) == value


def test_scaled_integers_on_the_wire():
    assert MAP["sp"].encode(1030.0) == (1030,)
    assert MAP["sp"].encode(-5.0) == (0xFFFB,)
    assert MAP["mv_heat"].decode([374]) == pytest.approx(37.4)
    assert MAP["status"].decode([0x0300, 0x0040]) == 0x0300_0040  # most significant word first
    with pytest.raises(ConfigurationError):
        MAP["sp"].encode(2000.0)


def _values(status: int, **over: float) -> dict[str, float]:
    values = {"pv": 950.0, "internal_sp": 1000.0, "mv_heat": 60.0, "status_lo": status & 0xFFFF}
    return values | {"status": float(status)} | over


def test_decode_reading_flags():
    ok = decode_reading(1.0, _values(int(Status.COMMS_WRITING | Status.RAM_WRITE_MODE)))
    assert (ok.pv_c, ok.working_sp_c, ok.output_pct) == (950.0, 1000.0, 60.0)
    assert not ok.sensor_break and not ok.manual and ok.program is None
    broken = decode_reading(1.0, _values(int(Status.INPUT_ERROR)))
    assert broken.sensor_break and broken.pv_c is None
    ad = decode_reading(1.0, _values(0, status_lo=float(Status.AD_ERROR)))  # low word only
    assert ad.sensor_break and ad.pv_c is None
    assert decode_reading(1.0, _values(int(Status.MANUAL))).manual
    assert not decode_reading(1.0, _values(0xFFFF_FFFF)).remote_sp_fail  # no watchdog, ever


# ------------------------------------------------------------------ the simulator


def _write(sim: OmronE5ccSim, name: str, value: float) -> None:
    reg = MAP[name]
    sim.bank.write(Table.HOLDING, reg.address, reg.encode(value))


def _armed(sim: OmronE5ccSim, sp: float) -> None:
    for command in (Command.WRITE_ENABLE, Command.RAM_MODE, Command.AUTO, Command.RUN):
        _write(sim, "command", command)
    _write(sim, "sp", sp)


def test_writes_refused_with_operation_error_until_writing_enabled():
    sim = OmronE5ccSim()
    for name, value in (("sp", 500.0), ("command", Command.RUN), ("command", Command.RAM_MODE)):
        with pytest.raises(BankError) as caught:
            _write(sim, name, value)
        assert caught.value.code == 4
    assert sim.sp_c == 0.0 and sim.bank.get("sp") == 0.0
    _write(sim, "command", Command.WRITE_ENABLE)
    assert Status.COMMS_WRITING in sim.status
    _write(sim, "sp", 500.0)
    assert sim.sp_c == 500.0
    assert sim.bank.get("command") == 0  # write-only: reads back nothing useful


def test_bad_command_info_and_unknown_codes_are_data_errors():
    sim = OmronE5ccSim()
    _write(sim, "command", Command.WRITE_ENABLE)
    for word, code in ((0x0102, 3), (0x7F00, 3), (0x0301, 4)):  # bad info, unknown, AT
        with pytest.raises(BankError) as caught:
            _write(sim, "command", word)
        assert caught.value.code == code


def test_eeprom_counts_setpoints_in_backup_mode_only():
    sim = OmronE5ccSim()
    _write(sim, "command", Command.WRITE_ENABLE)
    _write(sim, "sp", 100.0)
    assert sim.eeprom_writes == 1
    _write(sim, "command", Command.RAM_MODE)
    for sp in range(200, 300):
        _write(sim, "sp", float(sp))
    assert sim.eeprom_writes == 1
    assert Status.RAM_NOT_SAVED in sim.status


def test_no_watchdog_keeps_controlling_to_the_last_setpoint():
    sim = OmronE5ccSim()
    sim.step_to(0.0)
    _armed(sim, 1030.0)
    sim.step_to(3600.0)  # an hour without a word from the host
    assert sim.pv_c == pytest.approx(1030.0, abs=2.0)
    assert sim.melt_fraction == 1.0 and sim.output_pct > 10.0
    assert Status.STOP not in sim.status


def test_stop_forces_output_off_and_thermocouple_open_sets_input_error():
    sim = OmronE5ccSim()
    sim.step_to(0.0)
    _armed(sim, 1030.0)
    sim.step_to(60.0)
    assert sim.output_pct == 100.0
    _write(sim, "command", Command.STOP)
    sim.step_to(61.0)
    assert sim.output_pct == 0.0 and Status.STOP in sim.status
    _write(sim, "command", Command.RUN)
    sim.backdoor.open_thermocouple()
    sim.step_to(62.0)
    assert sim.output_pct == 0.0
    assert int(sim.bank.get("status_lo")) & Status.INPUT_ERROR


def test_reboot_restores_power_on_state_and_stored_stop():
    sim = OmronE5ccSim()
    _write(sim, "command", Command.WRITE_ENABLE)
    _write(sim, "command", Command.STOP)  # backup mode: stored
    _write(sim, "command", Command.RAM_MODE)
    _write(sim, "command", Command.RUN)  # RAM mode: not stored
    _write(sim, "sp", 900.0)
    sim.backdoor.reboot()
    assert sim.stopped and sim.sp_c == 0.0
    assert not sim.writes_enabled and not sim.ram_mode
    with pytest.raises(BankError):
        _write(sim, "sp", 900.0)


# ------------------------------------------------------------------ driver against the sim


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
