"""The simulated 3216P's own behaviour, stepped with explicit times (no sleeps)."""

from __future__ import annotations

import pytest

from drivers._modbus.bank import ILLEGAL_ADDRESS, BankError
from drivers._modbus.registers import Table
from drivers.eurotherm3200.bank import INTEGER_PAD, float_address
from drivers.eurotherm3200.driver import decode_reading
from drivers.eurotherm3200.registers import MAP, LoopMode, SetpointSource, Status, TStat
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions


def _write(sim: Eurotherm3200Sim, name: str, value: float) -> None:
    reg = MAP[name]
    sim.bank.write(Table.HOLDING, reg.address, reg.encode(value))


def _reading(sim: Eurotherm3200Sim) -> object:
    names = (
        "pv",
        "working_sp",
        "working_op",
        "status",
        "sbrk_flag",
        "loop_mode",
        "sp_select",
        "tstat",
        "prog_segment",
    )
    return decode_reading(0.0, {n: sim.bank.get(n) for n in names})


def _streaming_sim() -> Eurotherm3200Sim:
    sim = Eurotherm3200Sim(SimOptions(comms_timeout_s=30.0, flask="none"))
    sim.step_to(0.0)
    _write(sim, "remote_sp", 400.0)
    _write(sim, "sp_select", SetpointSource.REMOTE)
    _write(sim, "loop_mode", LoopMode.AUTO)
    return sim


def test_remote_setpoint_lease_falls_back_to_local_sp() -> None:
    sim = _streaming_sim()
    for t in range(10, 600, 10):  # host renews every 10 s
        _write(sim, "remote_sp", 400.0)
        sim.step_to(float(t))
    assert sim.working_sp_c == 400.0
    assert sim.output_pct > 50
    sim.step_to(640.0)  # host silent for 40 s > 30 s lease
    reading = _reading(sim)
    assert reading.remote_sp_fail  # type: ignore[attr-defined]
    assert sim.working_sp_c == 0.0  # local target SP: the armed fallback
    sim.step_to(700.0)
    assert sim.output_pct == 0.0


def test_open_thermocouple_sets_sensor_break_and_sbrk_output() -> None:
    sim = _streaming_sim()
    _write(sim, "sbrk_op", 0.0)
    sim.step_to(10.0)
    sim.backdoor.open_thermocouple()
    sim.step_to(20.0)
    reading = _reading(sim)
    assert reading.sensor_break and reading.pv_c is None  # type: ignore[attr-defined]
    assert sim.output_pct == 0.0


def test_safe_state_writes_and_eeprom_counter() -> None:
    sim = _streaming_sim()
    writes = sim.eeprom_writes
    for _ in range(100):
        _write(sim, "remote_sp", 500.0)
    assert sim.eeprom_writes == writes, "remote SP is volatile"
    _write(sim, "target_sp", 10.0)
    assert sim.eeprom_writes == writes + 1
    _write(sim, "loop_mode", LoopMode.MANUAL)
    _write(sim, "manual_op", 0.0)
    sim.step_to(100.0)
    assert sim.output_pct == 0.0


def test_invalid_writes_are_refused_like_the_instrument() -> None:
    sim = _streaming_sim()
    with pytest.raises(BankError) as caught:
        _write(sim, "tstat", TStat.END)  # END is a state, not a command
    assert caught.value.code == 3
    with pytest.raises(BankError):
        sim.bank.write(Table.HOLDING, MAP["pv"].address, [1])


def test_reboot_returns_to_power_on_state() -> None:
    sim = _streaming_sim()
    sim.backdoor.reboot()
    assert sim.bank.get("loop_mode") == LoopMode.MANUAL
    assert sim.bank.get("sp_select") == SetpointSource.LOCAL


def test_address_76_reads_the_bitwise_inverse_of_stat_and_is_read_only() -> None:
    sim = _streaming_sim()
    _write(sim, "loop_mode", LoopMode.MANUAL)
    sim.step_to(10.0)
    stat, inverted = sim.bank.read(Table.HOLDING, 75, 2)  # HA028651 §15.5 p.82
    assert stat & Status.MANUAL and inverted == ~stat & 0xFFFF
    assert sim.bank.read(Table.HOLDING, float_address(76), 2) == [inverted, INTEGER_PAD]
    with pytest.raises(BankError) as refused:
        sim.bank.write(Table.HOLDING, 76, [0])
    assert refused.value.code == ILLEGAL_ADDRESS
