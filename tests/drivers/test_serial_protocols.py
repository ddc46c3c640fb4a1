"""Golden exchanges from the manuals for the TPG and DCON framings, and garbage fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.adam4018 import protocol as dcon
from drivers.errors import DeviceRejected, DriverError, FramingError
from drivers.tpg36x import protocol as tpg
from drivers.tpg36x.protocol import GaugeStatus


def test_tpg_command_and_handshake_bytes() -> None:
    # BG 5195 BEN: host PR1<CR><LF>, gauge <ACK><CR><LF>, host <ENQ>, gauge x,sx.xxxxEsxx<CR><LF>
    assert tpg.command("PR1") == b"PR1\r\n"
    assert tpg.command("UNI", 0) == b"UNI,0\r\n"
    assert tpg.ENQ == b"\x05"
    splitter = tpg.LineSplitter()
    assert splitter.feed(b"\x06\r") == []
    (ack,) = splitter.feed(b"\n")
    tpg.check_ack(ack)
    with pytest.raises(DeviceRejected):
        tpg.check_ack(b"\x15")


@pytest.mark.parametrize(
    ("line", "status", "value"),
    [
        (b"0,1.0000E+03", GaugeStatus.OK, 1000.0),
        (b"0,4.8000E+01", GaugeStatus.OK, 48.0),
        (b"1,1.0000E-04", GaugeStatus.UNDERRANGE, 1e-4),
        (b"2,2.0000E+03", GaugeStatus.OVERRANGE, 2000.0),
        (b"3,0.0000E+00", GaugeStatus.SENSOR_ERROR, 0.0),
        (b"4,0.0000E+00", GaugeStatus.SENSOR_OFF, 0.0),
        (b"5,2.0000E-02", GaugeStatus.NO_SENSOR, 0.02),  # the manual's "5,2.0000E-2" style reply
    ],
)
def test_tpg_pressure_lines(line: bytes, status: GaugeStatus, value: float) -> None:
    reading = tpg.parse_pressure(line)
    assert reading.status is status
    assert reading.value == pytest.approx(value)
    assert reading.valid is (status is GaugeStatus.OK)


def test_tpg_error_word() -> None:
    assert tpg.parse_error_word(b"0000") == ()
    assert tpg.parse_error_word(b"0001") == ("syntax error",)
    assert tpg.parse_error_word(b"1000") == ("controller error",)


def test_dcon_checksum_golden() -> None:
    # ADAM-4000 manual: $012 -> $012B7 (0x24 + 0x30 + 0x31 + 0x32 = 0xB7)
    assert dcon.checksum("$012") == "B7"
    assert dcon.frame("$012", with_checksum=True) == b"$012B7\r"
    assert dcon.frame("#120", with_checksum=False) == b"#120\r"


def test_dcon_replies_golden() -> None:
    # #120 -> >+1.4567 ; $AA2 -> !45050600 ; ?AA refused
    assert dcon.parse_channel(dcon.unframe(b">+1.4567\r", with_checksum=False)).value_c == 1.4567
    values = dcon.parse_all_channels(">+1.4567+0.1234")
    assert [v.value_c for v in values] == [1.4567, 0.1234]
    assert dcon.unframe(b"!45050600", with_checksum=False) == "!45050600"
    with pytest.raises(DeviceRejected):
        dcon.unframe(b"?01", with_checksum=False)
    assert dcon.parse_channel(">+9999.9").open_wire
    assert dcon.parse_diagnosis("!0104", 1) == 4
    body = ">+0732.1"
    assert dcon.unframe((body + dcon.checksum(body)).encode(), with_checksum=True) == body
    with pytest.raises(FramingError, match="checksum"):
        dcon.unframe(b">+0732.100", with_checksum=True)


@given(st.binary(max_size=300))
def test_garbage_never_crashes_the_parsers(data: bytes) -> None:
    splitters: list[tpg.LineSplitter | dcon.ReplySplitter] = [
        tpg.LineSplitter(),
        dcon.ReplySplitter(),
    ]
    for splitter in splitters:
        try:
            lines = splitter.feed(data)
        except FramingError:
            continue
        for line in lines:
            for parse in (tpg.parse_pressure, tpg.parse_error_word, tpg.check_ack):
                with contextlib.suppress(DriverError):
                    parse(line)
            for chk in (True, False):
                try:
                    text = dcon.unframe(line, with_checksum=chk)
                    dcon.parse_all_channels(text)
                    dcon.parse_diagnosis(text, 1)
                except DriverError:
                    pass


@given(st.lists(st.binary(max_size=40), max_size=50))
def test_splitters_stay_bounded(chunks: list[bytes]) -> None:
    splitter = tpg.LineSplitter()
    for chunk in chunks:
        with contextlib.suppress(FramingError):
            splitter.feed(chunk)
        assert len(splitter._buf) <= tpg.MAX_LINE
