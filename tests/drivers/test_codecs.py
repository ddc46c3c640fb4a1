"""Codecs and register scaling against golden vectors from the manuals (devices.md §A.1/§A.2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers._modbus.codecs import (
    FLOAT32,
    FLOAT32_CDAB,
    INT16,
    INT32,
    INT32_CDAB,
    UINT16,
    UINT32,
    Codec,
)
from drivers._modbus.registers import Register, RegisterMap, Table
from drivers.errors import ConfigurationError, FramingError

# (codec, raw value, words on the wire): HA026230 (Eurotherm 2000 comms handbook) examples.
GOLDEN = [
    (INT16, 10001, (0x2711,)),  # 100.01 with 2 dp is sent as 10001
    (INT16, -32767, (0x8001,)),  # the scaled-integer minimum, 8001h
    (INT16, 32767, (0x7FFF,)),  # the scaled-integer maximum, 7FFFh
    (UINT16, 0x8000, (0x8000,)),  # padding word of integer parameters in the IEEE region
    (INT32, 120_000, (0x0001, 0xD4C0)),  # 2 min as 32-bit ms in the IEEE region: 0x0001D4C0
    (UINT32, 120_000, (0x0001, 0xD4C0)),
    (INT32_CDAB, 120_000, (0xD4C0, 0x0001)),
]


@pytest.mark.parametrize(("codec", "raw", "words"), GOLDEN)
def test_golden_vectors(codec: Codec, raw: int, words: tuple[int, ...]) -> None:
    assert codec.encode(raw) == words
    assert codec.decode(words) == raw


def test_ieee_float_msw_first() -> None:
    # HA026230: 1.001 -> 3F80 20C5, most significant word at the lower address.
    assert FLOAT32.encode(1.001) == (0x3F80, 0x20C5)
    assert FLOAT32.decode((0x3F80, 0x20C5)) == pytest.approx(1.001, rel=1e-7)
    assert FLOAT32_CDAB.encode(1.001) == (0x20C5, 0x3F80)


def test_scaled_register_rounds_to_its_resolution() -> None:
    reg = Register(name="pv", address=1, codec=INT16, decimals=2, writable=True)
    assert reg.encode(100.01) == (10001,)
    assert reg.decode((10001,)) == pytest.approx(100.01)
    assert reg.decode((0x8001,)) == pytest.approx(-327.67)


def test_out_of_range_and_limits_refused() -> None:
    reg = Register(name="sp", address=2, codec=INT16, decimals=1, limits=(0.0, 1000.0))
    with pytest.raises(ConfigurationError, match="outside"):
        reg.encode(1200.0)
    wide = Register(name="x", address=3, codec=INT16, decimals=1)
    with pytest.raises(ConfigurationError, match="does not fit"):
        wide.encode(4000.0)
    with pytest.raises(ConfigurationError):
        FLOAT32.encode(math.nan)


def test_garbage_words_are_a_framing_error() -> None:
    with pytest.raises(FramingError):
        INT32.decode((1,))
    with pytest.raises(FramingError):
        UINT16.decode((70000,))


def test_register_map_rejects_overlap_and_duplicates() -> None:
    a = Register(name="a", address=10, codec=FLOAT32)
    with pytest.raises(ConfigurationError, match="overlaps"):
        RegisterMap([a, Register(name="b", address=11)])
    with pytest.raises(ConfigurationError, match="duplicate"):
        RegisterMap([a, Register(name="a", address=20)])
    coils = RegisterMap([Register(name="c", address=10, table=Table.COIL), a])
    assert coils["c"].encode(1) == (1,)


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from([INT32, INT32_CDAB]))
def test_int32_round_trip(value: int, codec: Codec) -> None:
    assert codec.decode(codec.encode(value)) == value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_round_trip(value: float) -> None:
    assert FLOAT32.decode(FLOAT32.encode(value)) == value
