"""The 3200 register table against HA028651 / the 3216P address list (devices.md §A.2)."""

from __future__ import annotations

import pytest

from drivers._modbus.registers import Table
from drivers.capabilities import ProgramStatus
from drivers.eurotherm3200.driver import decode_reading
from drivers.eurotherm3200.registers import MAP, Status, TStat

ADDRESSES = {
    "pv": 1,
    "target_sp": 2,
    "manual_op": 3,
    "working_op": 4,
    "working_sp": 5,
    "tstat": 23,
    "remote_sp": 26,
    "sbrk_op": 34,
    "sp_rate": 35,
    "status": 75,
    "sbrk_flag": 258,
    "loop_mode": 273,
    "sp_select": 276,
    "prog_holdback": 327,
    "prog_end_type": 328,
    "prog_segment": 330,
    "decimals": 525,
    "ramp_units": 531,
}


@pytest.mark.parametrize(("name", "address"), sorted(ADDRESSES.items()))
def test_addresses_from_the_manual(name: str, address: int) -> None:
    assert MAP[name].address == address
    assert MAP[name].table is Table.HOLDING


@pytest.mark.parametrize("n", range(1, 9))
def test_segment_addresses(n: int) -> None:
    base = 1280 + 3 * (n - 1)
    assert (
        MAP[f"seg{n}_dwell"].address,
        MAP[f"seg{n}_target"].address,
        MAP[f"seg{n}_rate"].address,
    ) == (base, base + 1, base + 2)


def test_setpoint_eeprom_flags() -> None:
    assert MAP["target_sp"].nonvolatile, "TG.SP is EEPROM (~100 000 writes): never stream it"
    assert not MAP["remote_sp"].nonvolatile, "the streamed setpoint must be the volatile remote SP"


def test_scaled_temperature_vectors() -> None:
    # one decimal (dEc.P = 1): 732.0 °C is 7320 on the wire; -10.5 °C is 0xFF97
    assert MAP["remote_sp"].encode(732.0) == (7320,)
    assert MAP["pv"].decode((0xFF97,)) == pytest.approx(-10.5)


def test_tstat_coding_is_not_the_2400s() -> None:
    assert [int(t) for t in TStat] == [0, 1, 2, 3]  # reset, run, hold, end


@pytest.mark.parametrize(
    ("status", "check"),
    [
        (1 << 5, lambda r: r.sensor_break and r.pv_c is None),
        (1 << 10, lambda r: r.pv_over_range and r.pv_c is None),
        (1 << 14, lambda r: r.remote_sp_fail),
        (1 << 4, lambda r: r.pv_c == 500.0 and not r.sensor_break),
    ],
    ids=["b5-sensor-break", "b10-pv-over-range", "b14-remote-sp-fail", "b4-only"],
)
def test_status_word_bits(status: int, check: object) -> None:
    values = {
        "pv": 500.0,
        "working_sp": 510.0,
        "working_op": 40.0,
        "status": float(status),
        "sbrk_flag": 0.0,
        "loop_mode": 0.0,
        "sp_select": 1.0,
        "tstat": 1.0,
        "prog_segment": 2.0,
    }
    reading = decode_reading(12.0, values)
    assert callable(check) and check(reading)
    assert reading.program is ProgramStatus.RUN and reading.program_segment == 2


def test_sensor_break_flag_258_alone_invalidates_pv() -> None:
    values = {
        "pv": 20.0,
        "working_sp": 0.0,
        "working_op": 0.0,
        "status": 0.0,
        "sbrk_flag": 1.0,
        "loop_mode": 1.0,
        "sp_select": 0.0,
        "tstat": 0.0,
        "prog_segment": 0.0,
    }
    reading = decode_reading(0.0, values)
    assert reading.sensor_break and reading.pv_c is None and reading.manual
    assert not reading.remote_sp_fail, "b14 matters only while the remote SP is selected"
    assert int(Status.SENSOR_BREAK) == 1 << 5
