"""The paced line: never faster than the wire (lower bounds are exact), never far slower.

Lower bounds compare loop times with the ideal schedule computed from the character format,
so they hold on any machine. Upper bounds only catch a line that stalls: each allows
``SLACK_S`` (0.5 s) beyond the wire time, far more than a loaded two-core CI runner delays
an event-loop timer, and far less than a broken schedule would add.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers._modbus.registers import Table
from drivers._sim.paced_line import PacedPty, PacedWire, rtu_turnaround
from drivers.wire_time import CharFormat, Turnaround, read_sizes, write_sizes

SLACK_S = 0.5
LINE = CharFormat(9600)  # 8N1: 10 bits, 1.0417 ms a character
TURN = Turnaround(0.010, 0.050, "test")
READ_1 = bytes([1, 3, 0, 26, 0, 1, 0xA5, 0xCD])  # unit 1, FC3, one word (CRC not checked)
READ_4 = bytes([1, 3, 0, 1, 0, 4, 0x15, 0xC9])


class Arrivals:
    """Loop time and size of every delivered chunk."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.done = asyncio.Event()
        self.expected = 0

    def __call__(self, data: bytes) -> None:
        self.chunks.append((asyncio.get_running_loop().time(), data))
        if sum(len(c) for _, c in self.chunks) >= self.expected:
            self.done.set()

    def byte_times(self) -> Iterator[tuple[int, float]]:
        """(index of the byte, loop time it arrived) for each byte."""
        n = 0
        for at, chunk in self.chunks:
            for _ in chunk:
                yield n, at
                n += 1


async def _sent(wire: PacedWire, data: bytes, *, from_host: bool) -> tuple[float, Arrivals]:
    got = Arrivals()
    got.expected = len(data)
    start = wire.send(data, from_host=from_host, deliver=got)
    async with asyncio.timeout(5):
        await got.done.wait()
    return start, got


def test_character_format_and_silence() -> None:
    assert CharFormat(9600).bits == 10
    assert CharFormat(9600, parity="E").bits == 11
    assert CharFormat(9600, stopbits=2).bits == 11
    assert CharFormat(19200).rtu_silence_s == pytest.approx(3.5 * 10 / 19200)
    assert CharFormat(38400).rtu_silence_s == 0.00175  # fixed above 19200 (V1.02 §2.5.1.1)
    assert CharFormat(115200, parity="E").rtu_silence_s == 0.00175


def test_frame_sizes() -> None:
    assert read_sizes(Table.HOLDING, 1) == (8, 7)
    assert read_sizes(Table.HOLDING, 125) == (8, 255)
    assert read_sizes(Table.COIL, 9) == (8, 7)  # 9 bits in 2 data bytes
    assert write_sizes(Table.HOLDING, 1) == (8, 8)
    assert write_sizes(Table.HOLDING, 2) == (13, 8)
    assert write_sizes(Table.COIL, 6) == (10, 8)


def test_turnaround_by_unit_and_quantity() -> None:
    of = rtu_turnaround({1: TURN})
    assert of(READ_1) == 0.010
    assert of(READ_4) == 0.050
    assert of(bytes([1, 6, 0, 26, 0x01, 0xF4, 0, 0])) == 0.010  # FC6: one word
    assert of(bytes([2]) + READ_1[1:]) == 0.0  # a unit without a turnaround
    assert of(b"") == 0.0


async def test_bytes_never_arrive_before_their_wire_time() -> None:
    wire = PacedWire(LINE, turnaround=lambda _: 0.0, rtu=True)
    frame = bytes(range(40))
    start, got = await _sent(wire, frame, from_host=True)
    for index, at in got.byte_times():
        assert at >= start + (index + 1) * LINE.char_s
    assert len(got.chunks) > 1  # delivered as the bytes arrive, not all at once
    last = got.chunks[-1][0]
    assert last <= start + LINE.send_s(len(frame)) + SLACK_S


async def test_answer_waits_for_the_silence_and_the_turnaround() -> None:
    wire = PacedWire(LINE, turnaround=rtu_turnaround({1: TURN}), rtu=True)
    request_start = wire.send(READ_4, from_host=True, deliver=lambda _: None)
    answer = bytes(13)  # sent at once, as if the device answered instantly
    start, got = await _sent(wire, answer, from_host=False)
    request_end = request_start + LINE.send_s(len(READ_4))
    assert start >= request_end + LINE.rtu_silence_s + TURN.block_s
    first_at = got.chunks[0][0]
    assert first_at >= start + LINE.char_s
    ideal_end = start + LINE.send_s(len(answer))
    assert ideal_end <= got.chunks[-1][0] <= ideal_end + SLACK_S


async def test_next_request_waits_for_silence_after_the_answer() -> None:
    wire = PacedWire(LINE, turnaround=lambda _: 0.002, rtu=True)
    wire.send(READ_1, from_host=True, deliver=lambda _: None)
    answer_start = wire.send(bytes(7), from_host=False, deliver=lambda _: None)
    start, _ = await _sent(wire, READ_1, from_host=True)
    assert start >= answer_start + LINE.send_s(7) + LINE.rtu_silence_s


async def test_ascii_line_has_no_rtu_silence() -> None:
    wire = PacedWire(LINE, turnaround=lambda _: 0.0, rtu=False)
    first = wire.send(b"PR1\r\n", from_host=True, deliver=lambda _: None)
    second, _ = await _sent(wire, b"\x05", from_host=True)
    assert second == pytest.approx(first + LINE.send_s(5))


@contextlib.contextmanager
def _device_pty() -> Iterator[tuple[int, str]]:
    """A pty standing in for a simulator: (its master fd, the path the proxy opens)."""
    master, slave = os.openpty()
    try:
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


async def _read(fd: int, n: int) -> bytes:
    got = b""
    while len(got) < n:
        with contextlib.suppress(BlockingIOError):
            got += os.read(fd, n - len(got))
        await asyncio.sleep(0.0005)
    return got


async def test_pty_proxy_takes_the_transaction_time(tmp_path: Path) -> None:
    """Host -> proxy -> device and back, each way on the paced wire, with a real pty each."""
    link = tmp_path / "tty"
    with _device_pty() as (device, device_path):
        pty = PacedPty(
            Path(device_path), LINE, turnaround=rtu_turnaround({1: TURN}), rtu=True, link_path=link
        )
        async with pty:
            host = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                os.write(host, READ_1)
                async with asyncio.timeout(5):
                    assert await _read(device, len(READ_1)) == READ_1
                    t_request = loop.time()
                    os.write(device, bytes(7))
                    assert await _read(host, 7) == bytes(7)
                t_answer = loop.time()
            finally:
                os.close(host)
        assert not link.exists()
    assert t_request - t0 >= LINE.send_s(len(READ_1))
    ideal = LINE.send_s(len(READ_1) + 7) + LINE.rtu_silence_s + TURN.single_s
    assert ideal <= t_answer - t0 <= ideal + SLACK_S
