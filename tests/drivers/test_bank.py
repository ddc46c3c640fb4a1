"""The simulator's register memory: engineering values by name, raw words by address."""

from __future__ import annotations

import pytest

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.codecs import FLOAT32, INT16, INT32_CDAB
from drivers._modbus.registers import DocumentedSpan, Register, RegisterMap, Table
from drivers.errors import ConfigurationError

MAP = RegisterMap(
    [
        Register(name="pv", address=1, codec=INT16, decimals=1),
        Register(name="sp", address=2, codec=INT16, decimals=1, writable=True, limits=(0, 1200)),
        Register(name="count", address=4, codec=INT32_CDAB, writable=True),
        Register(name="gain", address=6, codec=FLOAT32, writable=True),
        Register(name="raw_in", address=0, table=Table.INPUT),
        Register(name="run", address=3, table=Table.COIL, writable=True),
        Register(name="locked", address=4, table=Table.COIL),
        Register(name="alarm", address=7, table=Table.DISCRETE),
    ]
)


def _code(err: pytest.ExceptionInfo[BankError]) -> int:
    return err.value.code


def test_set_and_get_round_trip_in_engineering_units() -> None:
    bank = RegisterBank(MAP)
    bank.set("pv", -12.3)
    bank.set("count", 70_000)
    bank.set("gain", 0.25)
    bank.set("run", 1)
    bank.set("alarm", 5)  # any true value is one bit
    assert bank.get("pv") == -12.3
    assert bank.get("count") == 70_000
    assert bank.get("gain") == 0.25
    assert bank.read(Table.HOLDING, 1, 1) == [(-123) & 0xFFFF]
    assert bank.read(Table.HOLDING, 4, 2) == [70_000 & 0xFFFF, 70_000 >> 16]  # CDAB
    assert bank.read(Table.COIL, 3, 2) == [1, 0]
    assert bank.read(Table.DISCRETE, 7, 1) == [1]


def test_set_is_the_device_side_no_writable_or_limit_checks() -> None:
    bank = RegisterBank(MAP)
    bank.set("sp", 5000.0)  # over the write limit: the instrument may still show it
    assert bank.get("sp") == 3276.7  # clamped to the raw type, not refused
    with pytest.raises(ConfigurationError):
        bank.set("nope", 1.0)


def test_reads_outside_the_map_are_illegal_addresses() -> None:
    bank = RegisterBank(MAP)
    for table, address, count in [
        (Table.HOLDING, 0, 1),  # below the first register
        (Table.HOLDING, 8, 1),  # past the last
        (Table.HOLDING, 6, 3),
        (Table.INPUT, 1, 1),
        (Table.DISCRETE, 0, 1),
        (Table.HOLDING, 1, 0),
    ]:
        with pytest.raises(BankError) as err:
            bank.read(table, address, count)
        assert _code(err) == 2


def test_a_read_touching_an_unlisted_address_is_refused_a_listed_one_reads_zero() -> None:
    bank = RegisterBank(MAP)
    bank.set("pv", 1.0)
    with pytest.raises(BankError) as err:
        bank.read(Table.HOLDING, 1, 7)  # address 3: no register, not in the manual
    assert _code(err) == 2
    assert bank.read(Table.HOLDING, 1, 2) == [10, 0]
    listed = RegisterMap(MAP, documented=[DocumentedSpan(Table.HOLDING, 3, 3, "manual p.1")])
    assert RegisterBank(listed).read(Table.HOLDING, 1, 7)[:3] == [0, 0, 0]


def test_discarding_unit_writes_around_unconfigured_words() -> None:
    bank = RegisterBank(MAP, discard_unconfigured=True)
    bank.write(Table.HOLDING, 2, [100, 0xBEEF, 7, 0])  # sp, a gap at 3 dropped, count
    assert (bank.get("sp"), bank.get("count")) == (10.0, 7)
    for address, values in [(3, [1]), (8, [1, 2])]:  # nothing configured at all: refused
        with pytest.raises(BankError) as err:
            bank.write(Table.HOLDING, address, values)
        assert _code(err) == 2


def test_function_codes_follow_the_tables_and_fc07_is_opt_in() -> None:
    bank = RegisterBank(MAP)
    assert bank.function_codes == {1, 2, 3, 4, 5, 6, 15, 16}
    only_holding = RegisterBank(RegisterMap([MAP["pv"]]))
    assert only_holding.function_codes == {3, 6, 16}
    with pytest.raises(BankError) as err:
        bank.exception_status()
    assert _code(err) == 1


def test_write_checks_address_writability_and_limits() -> None:
    bank = RegisterBank(MAP)
    cases = [
        (Table.HOLDING, 3, [1], 2),  # gap
        (Table.HOLDING, 5, [1], 2),  # middle of a two-word register
        (Table.HOLDING, 4, [1], 2),  # half of a two-word register
        (Table.HOLDING, 1, [1], 3),  # read-only
        (Table.HOLDING, 2, [12001], 3),  # over the limit
        (Table.HOLDING, 2, [(-1) & 0xFFFF], 3),  # under the limit
        (Table.COIL, 4, [1], 3),  # read-only coil
        (Table.COIL, 3, [2], 3),  # not a bit
        (Table.INPUT, 0, [1], 1),  # no write function for this table
    ]
    for table, address, values, code in cases:
        with pytest.raises(BankError) as err:
            bank.write(table, address, values)
        assert _code(err) == code, (table, address, values)
    assert bank.get("sp") == 0.0


def test_write_is_all_or_nothing_on_checks() -> None:
    bank = RegisterBank(MAP)
    with pytest.raises(BankError):
        bank.write(Table.HOLDING, 2, [100, 0, 7, 0])  # sp ok, then a gap at 3
    assert bank.get("sp") == 0.0
    bank.write(Table.HOLDING, 4, [7, 1])
    assert bank.get("count") == 65_543


def test_on_write_hook_sees_engineering_values_and_may_refuse() -> None:
    seen: list[tuple[str, float]] = []

    def hook(name: str, value: float) -> None:
        if name == "gain" and value < 0:
            raise BankError(3)
        seen.append((name, value))

    bank = RegisterBank(MAP, on_write=hook)
    bank.write(Table.HOLDING, 2, [4321])
    bank.write(Table.COIL, 3, [1])
    assert seen == [("sp", 432.1), ("run", 1.0)]
    bank.set("gain", 2.0)
    with pytest.raises(BankError) as err:
        bank.write(Table.HOLDING, 6, list(FLOAT32.encode(-1.0)))
    assert _code(err) == 3
    assert bank.get("gain") == 2.0  # refused value rolled back
    bank.set("pv", 1.0)  # the device's own side never calls the hook
    assert len(seen) == 2
