"""The ASCII serial parsers (Pfeiffer TPG 36x, DCON for the ADAM-4018) and the serial line itself.

Inputs are near-valid replies (the real formats with bytes changed) as well as garbage, so the
fuzzer reaches past the first check. The line is driven through a real pty: any bytes, in any
chunks, give a reply, a FramingError or a DeviceTimeout, within the timeout, and never more
than ``max_bytes``. The drivers on scripted lines are fuzzed in tests/drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers._serial import SerialLine, SerialSettings
from drivers.adam4018 import protocol as dcon
from drivers.errors import DeviceRejected, DeviceTimeout, FramingError
from drivers.tpg36x import protocol as tpg
from tests.fuzz.support import fuzz, mutated, says, says_one_of

PRESSURE = st.builds(
    lambda s, v: f"{s},{v:.4E}".encode(), st.integers(0, 6), st.floats(1e-9, 9.9e9)
)
ERROR_WORD = st.text("01", min_size=4, max_size=4).map(str.encode)


@fuzz(300)
@given(line=mutated(PRESSURE) | st.binary(max_size=90))
def test_tpg_pressure_lines_parse_or_say_why(line: bytes) -> None:
    try:
        reading = tpg.parse_pressure(line)
    except FramingError as err:
        says_one_of(err, "TPG pressure line", "unknown gauge status")
    else:
        assert isinstance(reading.status, tpg.GaugeStatus)
        assert f"{reading.value:.4E}".encode() in line.upper() or reading.value == 0.0


@fuzz(200)
@given(line=mutated(ERROR_WORD) | mutated(st.sampled_from([tpg.ACK, tpg.NAK])))
def test_tpg_handshake_and_error_words_parse_or_say_why(line: bytes) -> None:
    try:
        tpg.check_ack(line)
    except DeviceRejected as err:
        assert line == tpg.NAK
        says(err, "NAK")
    except FramingError as err:
        says(err, "ACK")
    else:
        assert line == tpg.ACK
    try:
        names = tpg.parse_error_word(line)
    except FramingError as err:
        says(err, "error word")
    else:
        assert len(names) == line.count(b"1")


VALUE = st.floats(-9999.9, 9999.9).map(dcon.format_value)
ADDRESS = st.integers(0, 255)
REPLY_TEXT = st.one_of(
    st.lists(VALUE, min_size=1, max_size=8).map(lambda vs: ">" + "".join(vs)),
    st.builds(lambda a, t: f"!{a:02X}{t:02X}0600", ADDRESS, st.integers(0, 255)),
    st.builds(lambda a: f"!{a:02X}4018P", ADDRESS),
    st.builds(lambda a, m: f"!{a:02X}{m:02X}", ADDRESS, st.integers(0, 255)),
    st.builds(lambda a: f"?{a:02X}", ADDRESS),
)


@st.composite
def dcon_replies(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A DCON reply as framed on the wire (with or without checksum), maybe mutated."""
    text, chk = draw(REPLY_TEXT), draw(st.booleans())
    wire = (text + (dcon.checksum(text) if chk else "")).encode() + dcon.CR
    return draw(mutated(st.just(wire)) | st.binary(max_size=100)), chk


@fuzz(400)
@given(reply=dcon_replies(), address=ADDRESS)
def test_dcon_replies_unframe_and_parse_or_say_why(reply: tuple[bytes, bool], address: int) -> None:
    raw, chk = reply
    try:
        text = dcon.unframe(raw, with_checksum=chk)
    except DeviceRejected as err:
        says(err, "refused")
        return
    except FramingError as err:
        says(err, "DCON")
        return
    assert text[:1] in (">", "!")
    for parse in (dcon.parse_channel, dcon.parse_all_channels):
        try:
            parse(text)
        except FramingError as err:
            says(err, "DCON channel")
    for parse_at in (dcon.parse_config, dcon.parse_name, dcon.parse_diagnosis):
        try:
            parse_at(text, address)
        except FramingError as err:
            says(err, f"module {address:02X}")


@fuzz(150)
@given(
    chunks=st.lists(st.binary(max_size=120), max_size=30), which=st.sampled_from(["tpg", "dcon"])
)
def test_splitters_give_whole_lines_and_stay_bounded(chunks: list[bytes], which: str) -> None:
    splitter = tpg.LineSplitter() if which == "tpg" else dcon.ReplySplitter()
    end, limit = (tpg.EOL, tpg.MAX_LINE) if which == "tpg" else (dcon.CR, dcon.MAX_REPLY)
    for chunk in chunks:
        try:
            lines = splitter.feed(chunk)
        except FramingError as err:
            says(err, str(limit))
            continue
        assert all(end not in line for line in lines)
        assert len(splitter._buf) <= limit


# ---- the serial line on a real pty ----

TIMEOUT_S = 0.15
CHUNKS = st.lists(
    st.one_of(st.binary(max_size=64), st.sampled_from([b"\r", b"\r\n", b">+0123.4\r"])),
    max_size=8,
)


async def _ask_over_pty(chunks: list[bytes], max_bytes: int) -> bytes | Exception:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    line = SerialLine(SerialSettings(port=os.ttyname(slave), baudrate=19200))
    try:

        async def device() -> None:
            while True:  # wait for the request, then answer in chunks
                with contextlib.suppress(BlockingIOError):
                    if os.read(master, 64):
                        break
                await asyncio.sleep(0.002)
            for chunk in chunks:
                os.write(master, chunk)
                await asyncio.sleep(0.001)

        answering = asyncio.create_task(device())
        try:
            async with line.transaction() as tx:
                return await tx.ask(b"Q\r", until=b"\r", timeout_s=TIMEOUT_S, max_bytes=max_bytes)
        except (FramingError, DeviceTimeout) as err:
            return err
        finally:
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
    finally:
        await line.close()
        os.close(master)
        os.close(slave)


@pytest.mark.slow
@pytest.mark.timeout(120)
@fuzz(40, deadline=None)
@given(chunks=CHUNKS, max_bytes=st.sampled_from([8, 80, 96]))
def test_the_line_returns_a_bounded_reply_or_a_named_error(
    chunks: list[bytes], max_bytes: int
) -> None:
    started = time.monotonic()
    outcome = asyncio.run(_ask_over_pty(chunks, max_bytes))
    assert time.monotonic() - started < 10 * TIMEOUT_S + 2.0
    sent = b"".join(chunks)
    if isinstance(outcome, bytes):
        assert b"\r" not in outcome and len(outcome) <= max_bytes
        assert sent.startswith(outcome + b"\r")
    elif isinstance(outcome, DeviceTimeout):
        assert not sent
        says(outcome, "no reply")
    else:
        says_one_of(outcome, "incomplete reply", f"within {max_bytes} bytes")
        first, found, _ = sent.partition(b"\r")
        assert not found or len(first) > max_bytes
