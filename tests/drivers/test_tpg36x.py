"""The TPG 36x simulator's protocol, and the driver against it over a real pty."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
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
from drivers.tpg36x.protocol import ACK, ENQ, ETX, NAK
from drivers.tpg36x.sim import Tpg36xSim


async def _lines_until(fd: int, last: bytes, timeout_s: float) -> list[bytes]:
    """Lines read from a raw non-blocking fd up to and including ``last`` (polled)."""
    buf = b""
    async with asyncio.timeout(timeout_s):
        while last + b"\r\n" not in buf:
            await asyncio.sleep(0.01)
            with contextlib.suppress(BlockingIOError):
                buf += os.read(fd, 1024)
    return buf.split(b"\r\n")[:-1]


async def test_com_streams_both_channels_unasked_until_the_next_command(tmp_path: Path) -> None:
    sim = Tpg36xSim(lambda: 48.0)
    async with sim.serving(clock=ScaledClock(), pty_link=tmp_path / "ttyTPG") as path:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(fd)
            os.write(fd, b"COM,0\r\n")  # every 100 ms (p. 72)
            prx = b"0,+4.8000E+01,5,+2.0000E-02"
            lines = await _lines_until(fd, prx + b"\r\n" + prx, timeout_s=2.0)
            assert lines[0] == ACK and set(lines[1:]) == {prx}  # no ENQ was sent
            os.write(fd, b"PR1\r\n")
            assert (await _lines_until(fd, ACK, timeout_s=1.0))[-1] == ACK
            await asyncio.sleep(0.35)  # three and a half intervals: nothing more comes
            with pytest.raises(BlockingIOError):
                os.read(fd, 1024)
            assert sim.continuous_s is None
        finally:
            os.close(fd)


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
