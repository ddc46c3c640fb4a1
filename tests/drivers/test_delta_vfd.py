"""Delta VFD-B: golden register vectors and request bytes (Delta's communication address list)
and the simulated drive in virtual time. The driver against the simulator over a real Modbus
TCP loopback is in ``tests/drivers/test_delta_vfd_driver.py``."""

from __future__ import annotations

import pytest

from drivers._modbus.bank import BankError
from drivers._modbus.plan import plan_reads
from drivers._modbus.registers import Poll, Table
from drivers.delta_vfd import MAP
from drivers.delta_vfd.driver import RUN_FORWARD, decode_reading
from drivers.delta_vfd.registers import Command, CommLossAction, Control, Fault
from drivers.delta_vfd.sim import DeltaVfdSim, VfdSimOptions
from drivers.errors import ConfigurationError
from tests.drivers.modbus_frames import crc16


def _write(sim: DeltaVfdSim, name: str, value: float) -> None:
    reg = MAP[name]
    sim.bank.write(Table.HOLDING, reg.address, reg.encode(value))


def _run_for(sim: DeltaVfdSim, start: float, seconds: float, *, poll: bool = True) -> float:
    """Step the drive in 0.5 s; with ``poll`` the host reads the status each step."""
    t = start
    for _ in range(round(seconds / 0.5)):
        t += 0.5
        sim.step_to(t)
        if poll:
            sim.bank.read(Table.HOLDING, MAP["fault_code"].address, 13)
    return t


# ----------------------------------------------------------------- golden vectors


def test_register_addresses_and_scaling_follow_the_manual_map() -> None:
    addresses = {
        "command": 0x2000,
        "freq_cmd": 0x2001,
        "control": 0x2002,
        "fault_code": 0x2100,
        "status": 0x2101,
        "output_freq": 0x2103,
        "output_current": 0x2104,
        "rpm": 0x210C,
        "max_freq": 0x0100,
    }
    assert {n: MAP[n].address for n in addresses} == addresses
    assert MAP["freq_cmd"].encode(50.0) == (0x1388,)  # 0.01 Hz
    assert MAP["output_freq"].decode([0x1770]) == 60.0
    assert MAP["max_freq"].decode([6000]) == 60.0
    assert int(RUN_FORWARD) == 0x0012
    assert (Command.STOP, Command.RUN, Command.FWD, Command.REV) == (0x01, 0x02, 0x10, 0x20)
    assert (Control.EF, Control.RESET, Control.BASE_BLOCK) == (0x0001, 0x0002, 0x0004)
    assert MAP["comm_timeout"].limits == (0.0, 60.0)  # 09-03: 0.0 ~ 60.0 s
    with pytest.raises(ConfigurationError):
        MAP["freq_cmd"].encode(400.01)


RESET_PDU = bytes.fromhex("06 2002 0002")  # FC06, 2002H, bit 1 (reset)
RESET_RTU = bytes.fromhex("01 06 2002 0002 A20B")  # station 01H


def test_golden_reset_request_is_fc06_to_2002h_bit_1() -> None:
    # The CRC is the manual's: its 06H example (write 1770H to 0100H, station 01H) ends 86H 22H.
    assert crc16(bytes.fromhex("01 06 0100 1770")) == bytes.fromhex("8622")
    assert b"\x01" + RESET_PDU + crc16(b"\x01" + RESET_PDU) == RESET_RTU
    reg = MAP["control"]
    assert (reg.address, reg.encode(Control.RESET)) == (0x2002, (0x0002,))


def test_a_read_is_one_block_from_0x2100_to_0x210c() -> None:
    sim = DeltaVfdSim()
    blocks = plan_reads(MAP.polled(Poll.FAST), max_block=125, max_fill=8)
    assert [(b.address, b.count) for b in blocks] == [(0x2100, 13)]
    assert len(sim.bank.read(Table.HOLDING, 0x2100, 13)) == 13  # the gaps read as 0


def test_decode_reading_status_bits() -> None:
    values = {"fault_code": 0, "status": 0x0503, "output_freq": 30.0, "rpm": 868}
    reading = decode_reading(1.0, values)
    assert reading.running and reading.output_hz == 30.0 and reading.rpm == 868
    assert decode_reading(1.0, {**values, "status": 0x0501}).running  # decelerating
    assert not decode_reading(1.0, {**values, "status": 0x0500, "fault_code": 6}).running


# ---------------------------------------------------------------- the simulated drive


def _running_sim(options: VfdSimOptions | None = None) -> DeltaVfdSim:
    sim = DeltaVfdSim(options)
    sim.step_to(0.0)
    _write(sim, "freq_cmd", 30.0)
    _write(sim, "command", RUN_FORWARD)
    return sim


def test_drive_ramps_by_its_accel_and_decel_times_and_the_arm_follows() -> None:
    sim = _running_sim(VfdSimOptions(max_freq_hz=60.0, accel_s=10.0, decel_s=20.0))
    t = _run_for(sim, 0.0, 2.0)
    assert sim.bank.get("output_freq") == pytest.approx(12.0, abs=0.01)  # 6 Hz/s
    t = _run_for(sim, t, 10.0)
    assert sim.bank.get("output_freq") == 30.0
    assert 800 < sim.bank.get("rpm") < 900  # 30 Hz, 4 poles: 900 rpm less slip
    assert sim.bank.get("output_current") > 0
    _write(sim, "command", Command.STOP)
    t = _run_for(sim, t, 2.0)
    assert sim.bank.get("output_freq") == pytest.approx(24.0, abs=0.01)  # 3 Hz/s
    assert int(sim.bank.get("status")) & 0x3 == 1  # decelerating
    _run_for(sim, t, 10.0)
    assert sim.bank.get("output_freq") == 0.0 and int(sim.bank.get("status")) & 0x3 == 0
    assert sim.arm.rpm < 50.0


def test_a_trip_cuts_the_output_and_the_arm_coasts_until_reset() -> None:
    sim = _running_sim()
    t = _run_for(sim, 0.0, 10.0)
    sim.backdoor.drive_fault(Fault.OVER_CURRENT)
    t = _run_for(sim, t, 2.0)
    assert sim.bank.get("fault_code") == Fault.OVER_CURRENT
    assert sim.bank.get("output_freq") == 0.0 and sim.bank.get("rpm") == 0  # the drive's view
    assert sim.arm.rpm > 500  # the arm is still coasting
    _write(sim, "command", RUN_FORWARD)  # ignored while tripped
    t = _run_for(sim, t, 1.0)
    assert not sim.output_on
    _write(sim, "control", Control.RESET)
    assert sim.bank.get("fault_code") == 0
    _run_for(sim, t, 1.0)
    assert not sim.output_on  # reset does not restart the arm
    _write(sim, "control", Control.EF)  # 2002H bit 0 trips like an external fault
    assert sim.bank.get("fault_code") == Fault.EXTERNAL


def test_only_2002h_bit_1_clears_a_trip_not_the_old_2000h_bits() -> None:
    sim = _running_sim()
    t = _run_for(sim, 0.0, 5.0)
    sim.backdoor.drive_fault(Fault.OVERLOAD)
    t = _run_for(sim, t, 1.0)
    _write(sim, "command", 0x2000)  # bit 13: reserved in 2000H (the old "reset")
    _write(sim, "command", 0x1000)  # bit 12: enables bits 6-11, no E-stop (the old "EF")
    assert sim.bank.get("fault_code") == Fault.OVERLOAD
    _write(sim, "control", Control.RESET)
    assert sim.bank.get("fault_code") == 0 and not sim.output_on
    _write(sim, "command", 0x1000 | RUN_FORWARD)  # bit 12 with bits 6-11 = 0: a plain run
    _run_for(sim, t, 2.0)
    assert output_on(sim) and sim.bank.get("fault_code") == 0


def output_on(sim: DeltaVfdSim) -> bool:
    """Read through a call, so mypy does not carry an earlier assert on it across a write."""
    return bool(sim.output_on)


def test_base_block_holds_the_output_off_while_set() -> None:
    sim = _running_sim()
    t = _run_for(sim, 0.0, 5.0)
    _write(sim, "control", Control.BASE_BLOCK)
    t = _run_for(sim, t, 1.0)
    assert not sim.output_on and sim.arm.rpm > 0  # coasting, no fault
    assert sim.bank.get("fault_code") == 0
    _write(sim, "control", 0)
    _run_for(sim, t, 1.0)
    assert output_on(sim) and 0 < sim.bank.get("output_freq") < 30.0  # the held RUN resumes


@pytest.mark.parametrize(
    ("action", "stopped_after_s"),
    [(CommLossAction.WARN_RAMP_STOP, 6.0), (CommLossAction.WARN_COAST_STOP, 0.5)],
)
def test_host_silence_stops_the_drive_by_09_02(
    action: CommLossAction, stopped_after_s: float
) -> None:
    sim = _running_sim(VfdSimOptions(comm_timeout_s=3.0, comm_fault_treatment=action))
    t = _run_for(sim, 0.0, 20.0)  # polled: the lease holds
    assert sim.bank.get("output_freq") == 30.0 and sim.bank.get("fault_code") == 0
    t = _run_for(sim, t, 3.0, poll=False)
    assert sim.output_on  # not yet past 09-03
    t = _run_for(sim, t, 1.0, poll=False)
    assert sim.bank.get("fault_code") == Fault.COMM_TIMEOUT
    if action is CommLossAction.WARN_RAMP_STOP:
        assert 0.0 < sim.bank.get("output_freq") < 30.0
    _run_for(sim, t, stopped_after_s, poll=False)
    assert not sim.output_on


def test_default_09_02_keeps_running_without_a_warning() -> None:
    sim = _running_sim(VfdSimOptions(comm_timeout_s=3.0))
    _run_for(sim, 0.0, 20.0, poll=False)
    assert sim.bank.get("output_freq") == 30.0 and sim.bank.get("fault_code") == 0


def test_refusals_jog_reverse_and_above_max_frequency() -> None:
    sim = DeltaVfdSim()
    for word in (0x0003, Command.RUN | Command.REV):
        with pytest.raises(BankError) as caught:
            _write(sim, "command", word)
        assert caught.value.code == 3
    with pytest.raises(BankError):
        _write(sim, "freq_cmd", 61.0)  # above 01-00 = 60 Hz
    with pytest.raises(BankError):
        _write(sim, "output_freq", 1.0)


def test_2102h_monitors_the_frequency_command_in_the_read_block() -> None:
    sim = DeltaVfdSim()
    _write(sim, "freq_cmd", 25.0)  # 2001H, 0.01 Hz
    block = sim.bank.read(Table.HOLDING, 0x2100, 4)  # 2100H..2103H, the address list's monitor
    assert block[2] == 2500 and sim.output_hz == 0.0  # the command, not the output (stopped)


def test_reboot_coasts_and_clears_commands_but_keeps_parameters() -> None:
    sim = _running_sim(VfdSimOptions(comm_timeout_s=3.0))
    t = _run_for(sim, 0.0, 10.0)
    sim.backdoor.reboot()
    _run_for(sim, t, 1.0)
    assert not sim.output_on and sim.arm.rpm > 0.0
    assert sim.bank.get("command") == 0 and sim.bank.get("comm_timeout") == 3.0
