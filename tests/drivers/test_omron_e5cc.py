"""Omron E5CC: golden vectors from H175 (§A.5) and the simulator's Omron behaviours.

The driver against the simulator is in ``tests/drivers/test_omron_e5cc_driver.py``."""

from __future__ import annotations

import pytest

from drivers._modbus.bank import BankError
from drivers._modbus.registers import Table
from drivers.errors import ConfigurationError
from drivers.omron_e5cc import MAP
from drivers.omron_e5cc.driver import decode_reading
from drivers.omron_e5cc.registers import Command, CommandCode, Status, command_word
from drivers.omron_e5cc.sim import OmronE5ccSim

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
