"""A serial line that takes as long as the wire: a pty proxy paced at the line's baud rate.

A pty moves bytes as fast as the kernel copies them, so a driver tested on one never waits
for the wire. :class:`PacedPty` sits between the host's pty and a simulator's pty and passes
every byte on no earlier than a real half-duplex RS-485 line would deliver it
(:class:`PacedWire`):

* each byte takes one character time (10 bits for 8N1, 11 for 8E1 or 8N2;
  :class:`~drivers.wire_time.CharFormat`);
* on Modbus RTU, a frame starts only after the line was silent for t3.5 (3.5 characters, a
  fixed 1.750 ms above 19200 baud: Modbus over Serial Line V1.02 §2.5.1.1);
* a device's answer starts only after its turnaround (:class:`~drivers.wire_time.Turnaround`,
  e.g. 2-10 ms for a Eurotherm single word, longer for blocks), counted from the end of the
  request (after t3.5 on RTU, when the device has seen the frame end).

Each chunk one side writes is one frame (a Modbus client and the simulators write a frame at
once). Times are computed from the ideal schedule, so a late timer delays bytes but never lets
one through early: the line is never faster than the wire, only slower by the event loop's lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from drivers._sim.links import CHUNK
from drivers.wire_time import CharFormat, Turnaround

TurnaroundOf = Callable[[bytes], float]  # request frame -> the device's turnaround, seconds
_COUNTED = frozenset({1, 2, 3, 4, 15, 16})  # function codes with a quantity at bytes 4-5


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a paced RTU line behaves: its character format and each unit's turnaround."""

    line: CharFormat
    units: Mapping[int, Turnaround]


def rtu_turnaround(units: Mapping[int, Turnaround]) -> TurnaroundOf:
    """The turnaround of the unit a request addresses (single word or block by its quantity)."""

    def of(request: bytes) -> float:
        found = units.get(request[0]) if request else None
        if found is None:
            return 0.0
        count = 1
        if len(request) >= 6 and request[1] in _COUNTED:
            count = int.from_bytes(request[4:6], "big")
        return found.of(count)

    return of


@dataclass(slots=True)
class _Frame:
    data: bytes
    start: float  # loop time the first bit goes on the wire
    deliver: Callable[[bytes], None]
    sent: int = 0


class PacedWire:
    """A half-duplex line in loop time: frames wait for silence, bytes take a character each."""

    def __init__(self, line: CharFormat, *, turnaround: TurnaroundOf, rtu: bool) -> None:
        self.line = line
        self._turnaround = turnaround
        self._silence_s = line.rtu_silence_s if rtu else 0.0
        self._free_at = 0.0  # loop time the last scheduled byte ends
        self._request: bytes | None = None  # the last host frame, while its answer is due
        self._frames: deque[_Frame] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def send(self, data: bytes, *, from_host: bool, deliver: Callable[[bytes], None]) -> float:
        """Put ``data`` on the wire as one frame; returns the loop time it starts."""
        loop = asyncio.get_running_loop()
        start = self._free_at + self._silence_s
        if not from_host and self._request is not None:
            start += self._turnaround(self._request)
        self._request = data if from_host else None
        start = max(loop.time(), start)
        self._free_at = start + self.line.send_s(len(data))
        self._frames.append(_Frame(data, start, deliver))
        if self._timer is None:
            self._timer = loop.call_at(start + self.line.char_s, self._pump)
        return start

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._frames.clear()

    def _pump(self) -> None:
        """Deliver every byte whose last bit has arrived; wake again for the next one."""
        self._timer = None
        now, char_s = asyncio.get_running_loop().time(), self.line.char_s
        while self._frames:
            frame = self._frames[0]
            due = frame.sent
            while due < len(frame.data) and frame.start + (due + 1) * char_s <= now:
                due += 1
            if due > frame.sent:
                frame.deliver(frame.data[frame.sent : due])
                frame.sent = due
            if frame.sent < len(frame.data):
                wake = frame.start + (frame.sent + 1) * char_s
                self._timer = asyncio.get_running_loop().call_at(wake, self._pump)
                return
            self._frames.popleft()


class PacedPty:
    """A raw pty for the host (``device_path``, or ``link_path``) paced in front of ``target``.

    ``target`` is the pty path a simulator serves (an RTU link's or an ASCII device's).
    """

    def __init__(
        self,
        target: Path,
        line: CharFormat,
        *,
        turnaround: TurnaroundOf,
        rtu: bool,
        link_path: Path | None = None,
    ) -> None:
        self._target, self._link = target, link_path
        self.wire = PacedWire(line, turnaround=turnaround, rtu=rtu)
        self._fds: list[int] = []
        self._host = self._device = -1
        self.device_path = ""

    async def __aenter__(self) -> PacedPty:
        self._host, slave = os.openpty()  # the slave stays open: the host may reopen it
        self._fds += [self._host, slave]
        try:
            self._device = os.open(self._target, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            self._fds.append(self._device)
            self.device_path = os.ttyname(slave)
            if self._link is not None:
                self._link.unlink(missing_ok=True)
                self._link.symlink_to(self.device_path)
            for fd in self._fds:
                tty.setraw(fd)
        except BaseException:
            self._close()
            raise
        os.set_blocking(self._host, False)
        loop = asyncio.get_running_loop()
        loop.add_reader(self._host, self._relay, self._host, True)
        loop.add_reader(self._device, self._relay, self._device, False)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._host)
        loop.remove_reader(self._device)
        self.wire.close()
        self._close()

    def _close(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        if self._link is not None:
            self._link.unlink(missing_ok=True)

    def _relay(self, source: int, from_host: bool) -> None:
        try:
            data = os.read(source, CHUNK)
        except OSError:  # BlockingIOError, or EIO while the host reopens its end
            return
        if data:
            sink = self._device if from_host else self._host
            self.wire.send(data, from_host=from_host, deliver=lambda b: _write(sink, b))


def _write(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the reader is gone or its buffer is full: lost
        os.write(fd, data)


def paced_rtu(
    pacing: Pacing | None, sim_side: str, link_path: Path
) -> AbstractAsyncContextManager[object]:
    """The paced proxy from ``link_path`` to an RTU link's ``sim_side`` path (None: nothing)."""
    if pacing is None:
        return contextlib.nullcontext()
    of = rtu_turnaround(pacing.units)
    return PacedPty(Path(sim_side), pacing.line, turnaround=of, rtu=True, link_path=link_path)
