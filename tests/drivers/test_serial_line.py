"""The async serial line against a pty device, and the sim-side pty helper's parts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers._serial import SerialLine, SerialSettings
from drivers._sim.ascii_pty import AsciiPty, RequestFramer, garble
from drivers._sim.links import Faults
from drivers.errors import DeviceTimeout, FramingError, LinkDown

CR = b"\r"


def test_framer_splits_lines_controls_and_optional_lf() -> None:
    framer = RequestFramer(ends=CR, singles=b"\x05\x03", skip=b"\n")
    assert framer.feed(b"PR1\r") == [b"PR1"]
    assert framer.feed(b"\nUN") == []
    assert framer.feed(b"I,0\r\n\x05") == [b"UNI,0", b"\x05"]
    assert framer.feed(b"PR\x03") == [b"\x03"]  # ETX drops the unfinished line
    assert framer.feed(b"\r") == [b""]


def test_framer_stays_bounded() -> None:
    framer = RequestFramer(ends=CR, max_len=8)
    assert framer.feed(b"X" * 100) == []
    assert framer.feed(b"AB\r") == []  # the overlong line is dropped whole
    assert framer.feed(b"CD\r") == [b"CD"]


def test_garble_keeps_line_ends_and_breaks_everything_else() -> None:
    assert garble(b"\x06\r\n") == b"\x86\r\n"
    assert garble(b">+0123.4\r") == bytes(b ^ 0x80 for b in b">+0123.4") + CR


def _echo(request: bytes) -> bytes | None:
    """Upper-cases a request; 'quiet' gets no reply, 'half' a reply without terminator."""
    if request == b"quiet":
        return None
    if request == b"half":
        return b"HAL"
    if request == b"long":
        return b"L" * 50 + CR
    return request.upper() + CR


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[tuple[SerialLine, Faults]]:
    faults = Faults()
    link = tmp_path / "ttyDEV"
    async with AsciiPty(_echo, RequestFramer(ends=CR), faults, link_path=link):
        line = SerialLine(SerialSettings(port=str(link), baudrate=19200))
        try:
            yield line, faults
        finally:
            await line.close()
    assert not link.exists()


async def _ask(line: SerialLine, request: bytes, timeout_s: float = 0.2) -> bytes:
    async with line.transaction() as tx:
        return await tx.ask(request + CR, until=CR, timeout_s=timeout_s, max_bytes=40)


async def test_round_trip_and_serialized_transactions(
    device: tuple[SerialLine, Faults],
) -> None:
    line, _ = device
    opened = [line.connected]
    assert await _ask(line, b"abc") == b"ABC"
    opened.append(line.connected)
    assert opened == [False, True]  # opened on demand by the first transaction
    replies = await asyncio.gather(*(_ask(line, f"q{n}".encode()) for n in range(10)))
    assert replies == [f"Q{n}".encode() for n in range(10)]


async def test_silence_times_out_in_wall_seconds(device: tuple[SerialLine, Faults]) -> None:
    line, faults = device
    started = time.monotonic()
    with pytest.raises(DeviceTimeout):
        await _ask(line, b"quiet", timeout_s=0.15)
    assert 0.14 < time.monotonic() - started < 0.5
    faults.silent = True
    with pytest.raises(DeviceTimeout):
        await _ask(line, b"abc", timeout_s=0.1)
    faults.silent = False
    assert await _ask(line, b"abc") == b"ABC"


async def test_partial_and_overlong_replies_are_framing_errors(
    device: tuple[SerialLine, Faults],
) -> None:
    line, _ = device
    with pytest.raises(FramingError, match="incomplete"):
        await _ask(line, b"half", timeout_s=0.1)
    with pytest.raises(FramingError, match="within 40 bytes"):
        await _ask(line, b"long")
    assert await _ask(line, b"ok") == b"OK"


async def test_a_late_reply_does_not_answer_the_next_request(
    device: tuple[SerialLine, Faults],
) -> None:
    line, faults = device
    faults.delay_s = 0.15
    with pytest.raises(DeviceTimeout):
        await _ask(line, b"first", timeout_s=0.05)
    await asyncio.sleep(0.15)  # b"FIRST" arrives now, while nobody asks
    faults.delay_s = 0.0
    assert await _ask(line, b"second") == b"SECOND"


async def test_missing_port_is_link_down_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = SerialLine(SerialSettings(port=str(tmp_path / "nothing")))
    caplog.set_level(logging.INFO, logger="drivers._serial.line")
    for _ in range(3):
        with pytest.raises(LinkDown):
            await line.open()
    assert len([r for r in caplog.records if "cannot be opened" in r.message]) == 1


async def test_lost_port_raises_link_down_then_reopens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drivers._serial.line")
    link = tmp_path / "ttyDEV"
    line = SerialLine(SerialSettings(port=str(link)))
    try:
        async with AsciiPty(_echo, RequestFramer(ends=CR), Faults(), link_path=link):
            assert await _ask(line, b"a") == b"A"
        await asyncio.sleep(0.05)  # the pty is gone: reading the port fails (EIO)
        for _ in range(3):
            with pytest.raises(LinkDown):
                await _ask(line, b"b")
        assert not line.connected
        async with AsciiPty(_echo, RequestFramer(ends=CR), Faults(), link_path=link):
            assert await _ask(line, b"c") == b"C"
    finally:
        await line.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # lost (or cannot be opened) once, then back once
    assert warnings[-1].endswith("is back")
