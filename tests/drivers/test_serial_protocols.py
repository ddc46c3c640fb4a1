"""Golden exchanges from the manuals for the TPG and DCON framings, and garbage fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.adam4018 import protocol as dcon
from drivers.errors import DeviceRejected, DriverError, FramingError
from drivers.tpg36x import protocol as tpg
from drivers.tpg36x.protocol import ACK, ENQ, ETX, NAK, GaugeStatus
from drivers.tpg36x.sim import Tpg36xSim
from labctl.cast.device_status import TABLE, Device


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
        (b"0,+1.0000E+03", GaugeStatus.OK, 1000.0),  # p. 71's sx.xxxxEsxx, sign and all
        (b"0,-2.5000E-01", GaugeStatus.OK, -0.25),  # a linear gauge's offset can go negative
        (b"0,1.0000E+03", GaugeStatus.OK, 1000.0),  # a clone that drops the sign still reads
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


@pytest.mark.parametrize(
    ("status", "value", "line"),
    [
        (GaugeStatus.OK, 1000.0, b"0,+1.0000E+03"),  # p. 71's form with the sign
        (GaugeStatus.UNDERRANGE, 5e-4, b"1,+5.0000E-04"),
        (GaugeStatus.NO_SENSOR, 0.02, b"5,+2.0000E-02"),
        (GaugeStatus.OK, -0.25, b"0,-2.5000E-01"),
    ],
)
def test_tpg_pressure_lines_are_written_with_their_sign(
    status: GaugeStatus, value: float, line: bytes
) -> None:
    assert tpg.format_pressure(status, value) == line
    assert tpg.parse_pressure(line) == tpg.PressureReading(status, value)


def test_tpg_error_word() -> None:
    assert tpg.parse_error_word(b"0000") == ()
    assert tpg.parse_error_word(b"0001") == ("syntax error",)
    assert tpg.parse_error_word(b"1000") == ("controller error",)


# The simulated gauge answers as the manual's exchanges show.
ACK_LINE, NAK_LINE = ACK + b"\r\n", NAK + b"\r\n"


def _ask(sim: Tpg36xSim, command: bytes) -> bytes | None:
    """The two-step exchange on the pure simulator: the data line, or None after a NAK."""
    if sim.handle(command) != ACK_LINE:
        return None
    reply = sim.handle(ENQ)
    assert reply is not None
    assert reply.endswith(b"\r\n")
    return reply[:-2]


def test_sim_two_step_exchange_and_repeated_enq() -> None:
    pressure = [48.0]
    sim = Tpg36xSim(lambda: pressure[0])
    assert sim.handle(ENQ) is None  # nothing asked yet
    assert _ask(sim, b"PR1") == b"0,+4.8000E+01"  # the sign of p. 71's sx.xxxxEsxx
    pressure[0] = 12.5
    assert sim.handle(ENQ) == b"0,+1.2500E+01\r\n"  # ENQ again: a fresh value
    assert sim.handle(ETX) is None
    assert sim.handle(ENQ) is None  # ETX cleared it
    assert _ask(sim, b"PRX") == b"0,+1.2500E+01,5,+2.0000E-02"  # no head on channel 2
    assert _ask(sim, b"TID") == b"TPR,noSen"


def test_sim_nak_sets_the_error_word_and_err_clears_it() -> None:
    sim = Tpg36xSim(lambda: 1.0)
    assert sim.handle(b"XYZ") == NAK_LINE
    assert sim.handle(ENQ) is None
    assert _ask(sim, b"ERR") == b"0001"  # syntax error
    assert _ask(sim, b"ERR") == b"0000"  # cleared by reading
    assert sim.handle(b"UNI,9") == NAK_LINE
    assert sim.handle(b"PR5") == NAK_LINE
    assert _ask(sim, b"ERR") == b"0110"  # inadmissible parameter, no hardware
    assert sim.handle(b"pr1") == NAK_LINE  # mnemonics are upper case
    assert sim.handle(b"\xff\xfe") == NAK_LINE


def test_sim_answers_the_mnemonics_third_party_clients_open_with() -> None:
    """BAU, FSR and SEN read back (pylablib's TPG26x opens with BAU); malformed ones are NAKed."""
    sim = Tpg36xSim(lambda: 1.0)
    assert _ask(sim, b"BAU") == b"0"  # 9600 baud
    assert _ask(sim, b"FSR") == b"5,5"  # 1000 mbar, the default of BG 5195 BEN p. 78
    assert _ask(sim, b"FSR,3,9") == b"3,9"
    assert _ask(sim, b"SEN") == b"0,0"  # a Pirani (and no head) cannot be switched
    assert _ask(sim, b"SEN,1,0") == b"0,0"
    sim.backdoor.sensor_off(True)
    assert _ask(sim, b"SEN") == b"1,0"
    assert _ask(sim, b"UNI, 1") == b"1"  # spaces are ignored (BG 5510 BEN §1.3)
    refusals = [(b"FSR,3", b"0001"), (b"FSR,3,10", b"0010"), (b"SEN,3,0", b"0010")]
    for request, word in [*refusals, (b"BAU,x", b"0001"), (b"COM,3", b"0010")]:
        assert sim.handle(request) == NAK_LINE
        assert _ask(sim, b"ERR") == word


def test_sim_units_and_range_limits() -> None:
    pressure = [100.0]
    sim = Tpg36xSim(lambda: pressure[0])
    assert _ask(sim, b"UNI") == b"0"
    assert _ask(sim, b"UNI,2") == b"2"
    assert _ask(sim, b"PR1") == b"0,+1.0000E+04"  # 100 mbar in Pa
    sim.handle(b"UNI,0")
    pressure[0] = 1e-5
    assert _ask(sim, b"PR1") == b"1,+5.0000E-04"  # below the Pirani's range
    pressure[0] = 1500.0
    assert _ask(sim, b"PR1") == b"2,+1.0000E+03"


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


# The status digit per the TPG 261 manual BG 5195 BEN / A (2011-05) p. 71, written out by hand.
MANUAL_STATUS = {
    0: "ok",  # "Measurement data okay"
    1: "underrange",
    2: "overrange",
    3: "sensor error",
    4: "sensor off",
    5: "no sensor",
    6: "identification error",
}


@pytest.mark.parametrize(("digit", "text"), sorted(MANUAL_STATUS.items()))
def test_each_status_digit_of_the_manual_maps_to_its_status(digit: int, text: str) -> None:
    reading = tpg.parse_pressure(f"{digit},1.0000E+02".encode())
    assert reading.status == digit and reading.status.text == text
    assert reading.valid is (digit == 0)  # only "okay" carries a measurement
    assert text in TABLE[Device.GAUGE]  # the caster knows what it means in every step


def test_a_status_digit_the_manual_does_not_name_gives_no_value() -> None:
    assert [s.value for s in GaugeStatus] == sorted(MANUAL_STATUS)
    with pytest.raises(FramingError, match="unknown gauge status 7"):
        tpg.parse_pressure(b"7,0.0000E+00")  # an Inficon VGC clone's ion gauge error
