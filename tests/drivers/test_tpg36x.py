"""The TPG 36x simulator's protocol, and the driver against it over a real pty."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers._serial import SerialLine, SerialSettings
from drivers.clock import ScaledClock
from drivers.errors import DeviceRejected, DeviceTimeout, DriverError, FramingError
from drivers.tpg36x import GaugeStatus, Tpg36x
from drivers.tpg36x import protocol as tpg
from drivers.tpg36x.protocol import ACK, ENQ, ETX, NAK
from drivers.tpg36x.sim import Tpg36xSim
from labctl.cast.device_status import TABLE, Device

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
    assert _ask(sim, b"PR1") == b"0,4.8000E+01"
    pressure[0] = 12.5
    assert sim.handle(ENQ) == b"0,1.2500E+01\r\n"  # ENQ again: a fresh value
    assert sim.handle(ETX) is None
    assert sim.handle(ENQ) is None  # ETX cleared it
    assert _ask(sim, b"PRX") == b"0,1.2500E+01,5,2.0000E-02"  # no head on channel 2
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


def test_sim_units_and_range_limits() -> None:
    pressure = [100.0]
    sim = Tpg36xSim(lambda: pressure[0])
    assert _ask(sim, b"UNI") == b"0"
    assert _ask(sim, b"UNI,2") == b"2"
    assert _ask(sim, b"PR1") == b"0,1.0000E+04"  # 100 mbar in Pa
    sim.handle(b"UNI,0")
    pressure[0] = 1e-5
    assert _ask(sim, b"PR1") == b"1,5.0000E-04"  # below the Pirani's range
    pressure[0] = 1500.0
    assert _ask(sim, b"PR1") == b"2,1.0000E+03"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Tpg36xSim, Tpg36x, list[float]]]:
    pressure = [48.0]
    sim = Tpg36xSim(lambda: pressure[0])
    clock = ScaledClock()
    async with sim.serving(clock=clock, pty_link=tmp_path / "ttyTPG") as path:
        line = SerialLine(SerialSettings(port=str(path)))
        gauge = Tpg36x(line, channel=1, clock=clock, timeout_s=0.2)
        try:
            yield sim, gauge, pressure
        finally:
            await line.close()


async def test_connect_sets_mbar_and_reads(rig: tuple[Tpg36xSim, Tpg36x, list[float]]) -> None:
    sim, gauge, _ = rig
    sim.unit = 1  # someone left it in Torr
    await gauge.connect()
    assert sim.unit == 0
    reading = await gauge.read()
    assert reading.mbar == 48.0
    assert reading.status == "ok"
    assert sim.last_request_at is not None
    assert sim.last_request_at <= reading.at


_FAULTS: dict[str, Callable[[Tpg36xSim, list[float]], None]] = {
    "underrange": lambda sim, p: p.__setitem__(0, 1e-6),
    "overrange": lambda sim, p: p.__setitem__(0, 2000.0),
    "sensor error": lambda sim, p: sim.backdoor.sensor_error(True),
    "sensor off": lambda sim, p: sim.backdoor.sensor_off(True),
    "no sensor": lambda sim, p: sim.backdoor.no_sensor(True),
    "identification error": lambda sim, p: sim.backdoor.identification_error(True),
}


@pytest.mark.parametrize("status", list(_FAULTS))
async def test_every_status_gives_no_value(
    rig: tuple[Tpg36xSim, Tpg36x, list[float]], status: str
) -> None:
    sim, gauge, pressure = rig
    _FAULTS[status](sim, pressure)
    reading = await gauge.read()
    assert reading.status == status
    assert reading.mbar is None


async def test_nak_is_rejected_with_the_reason(tmp_path: Path) -> None:
    sim, clock = Tpg36xSim(lambda: 5.0), ScaledClock()
    async with sim.serving(clock=clock, pty_link=tmp_path / "ttyTPG") as path:
        line = SerialLine(SerialSettings(port=str(path)))
        try:
            with pytest.raises(DeviceRejected, match="no hardware"):
                await Tpg36x(line, channel=3, clock=clock).read()
            assert sim.errors == 0  # the driver read (and so cleared) the error word
            assert (await Tpg36x(line, channel=1, clock=clock).read()).mbar == 5.0
        finally:
            await line.close()


async def test_silence_then_recovery(rig: tuple[Tpg36xSim, Tpg36x, list[float]]) -> None:
    sim, gauge, _ = rig
    sim.backdoor.silent(True)
    with pytest.raises(DeviceTimeout):
        await gauge.read()
    sim.backdoor.silent(False)
    assert (await gauge.read()).mbar == 48.0
    sim.backdoor.comms_loss(True)
    with pytest.raises(DeviceTimeout):
        await gauge.read()
    sim.backdoor.comms_loss(False)
    assert (await gauge.read()).status == "ok"


async def test_garbled_reply_then_recovery(rig: tuple[Tpg36xSim, Tpg36x, list[float]]) -> None:
    sim, gauge, _ = rig
    sim.backdoor.garble(True)
    with pytest.raises(FramingError):
        await gauge.read()
    sim.backdoor.garble(False)
    assert (await gauge.read()).mbar == 48.0


async def test_slow_replies_within_the_timeout_still_read(
    rig: tuple[Tpg36xSim, Tpg36x, list[float]],
) -> None:
    sim, gauge, _ = rig
    sim.backdoor.slow_replies(0.05)
    assert (await gauge.read()).mbar == 48.0
    sim.backdoor.slow_replies(0.3)  # longer than the 0.2 s timeout
    with pytest.raises(DeviceTimeout):
        await gauge.read()
    sim.backdoor.slow_replies(0.0)
    await asyncio.sleep(0.3)
    assert (await gauge.read()).mbar == 48.0


class _ScriptedLine:
    """Replies from a script at the line seam; silence when it runs out."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = deque(replies)
        self.sent: list[bytes] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_ScriptedLine]:
        yield self

    async def ask(self, request: bytes, *, until: bytes, timeout_s: float, max_bytes: int) -> bytes:
        self.sent.append(request)
        if not self.replies:
            raise DeviceTimeout("script ran out")
        reply = self.replies.popleft()
        if len(reply) > max_bytes:
            raise FramingError("too long")
        return reply

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


@pytest.mark.parametrize("status", list(GaugeStatus))
async def test_status_digit_decoding(status: GaugeStatus) -> None:
    line = _ScriptedLine([ACK, f"{int(status)},1.0000E+02".encode()])
    reading = await Tpg36x(line, clock=ScaledClock()).read()
    assert reading.status == status.text
    assert reading.mbar == (100.0 if status is GaugeStatus.OK else None)
    assert line.sent == [b"PR1\r\n", ENQ]


async def test_garbage_makes_the_driver_clear_the_gauge_buffer() -> None:
    line = _ScriptedLine([ACK, b"0,12"])
    with pytest.raises(FramingError):
        await Tpg36x(line, clock=ScaledClock()).read()
    assert line.sent[-1] == ETX


_REPLIES = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([ACK, NAK, b"0", b"TPR,noSen", b"0,4.8000E+01", b"7,1.0000E+00", b"0001"]),
    st.text(alphabet="0123456789,.E+-", max_size=20).map(str.encode),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_REPLIES, max_size=8))
def test_random_replies_only_raise_driver_errors(replies: list[bytes]) -> None:
    async def run() -> None:
        gauge = Tpg36x(_ScriptedLine(replies), clock=ScaledClock())
        for step in (gauge.connect, gauge.read):
            with contextlib.suppress(DriverError):
                await step()

    asyncio.run(asyncio.wait_for(run(), 2.0))


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
