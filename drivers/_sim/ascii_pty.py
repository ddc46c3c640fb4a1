"""Serve an ASCII request/reply device model on a pty, with live link faults.

The simulator side of :mod:`drivers._serial.line`: a raw pty pair whose slave path (plus an
optional symlink) is what the daemon opens as its serial port. Bytes from the host are split
into requests by a :class:`RequestFramer`; each complete request goes to the model's handler,
which returns the reply bytes (or None: the device stays silent). A device in a continuous
output mode sends lines unasked through :meth:`AsciiPty.stream`. The link's
:class:`~drivers._sim.links.Faults` are read on every request and reply, so a backdoor flipping a
field takes effect at once (``corrupt_crc`` is for RTU links and unused here).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from drivers._sim.links import CHUNK, Faults

Handler = Callable[[bytes], bytes | None]
_LINE_ENDS = b"\r\n"


def garble(reply: bytes) -> bytes:
    """Line noise: every character but CR/LF gets its top bit flipped (never valid ASCII)."""
    return bytes(b if b in _LINE_ENDS else b ^ 0x80 for b in reply)


class RequestFramer:
    """Host bytes -> complete requests (terminator stripped); bounded against garbage.

    ``ends`` terminate a request; each byte of ``singles`` is a request on its own (ENQ, ETX);
    bytes in ``skip`` between requests are dropped (an optional LF after CR). A line longer
    than ``max_len`` is dropped whole, as a device's input buffer would overflow.
    """

    def __init__(
        self, *, ends: bytes, singles: bytes = b"", skip: bytes = b"", max_len: int = 128
    ) -> None:
        self._ends, self._singles, self._skip, self._max = ends, singles, skip, max_len
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for byte in data:
            if byte in self._singles:
                self._buf.clear()  # a control character also ends any unfinished line
                out.append(bytes([byte]))
            elif byte in self._ends:
                if not self._overflow:
                    out.append(bytes(self._buf))
                self._buf.clear()
                self._overflow = False
            elif byte in self._skip and not self._buf:
                continue
            elif len(self._buf) < self._max:
                self._buf.append(byte)
            else:
                self._buf.clear()
                self._overflow = True
        return out


class AsciiPty:
    """A raw pty pair: the daemon opens ``device_path`` (or ``link_path``), the model answers."""

    def __init__(
        self,
        handler: Handler,
        framer: RequestFramer,
        faults: Faults,
        *,
        link_path: Path | None = None,
    ) -> None:
        self._handler, self._framer, self._faults = handler, framer, faults
        self._link = link_path
        self._master = self._slave = -1
        self._late: set[asyncio.Task[None]] = set()
        self._streaming: asyncio.Task[None] | None = None
        self.device_path = ""

    async def __aenter__(self) -> AsciiPty:
        self._master, self._slave = os.openpty()  # the slave stays open here, so the daemon
        try:  # may close and reopen its end at any time (as in drivers._sim.links.PtyLink)
            tty.setraw(self._master)
            tty.setraw(self._slave)
            os.set_blocking(self._master, False)
            self.device_path = os.ttyname(self._slave)
            if self._link is not None:
                self._link.unlink(missing_ok=True)
                self._link.symlink_to(self.device_path)
        except BaseException:
            self._close()
            raise
        asyncio.get_running_loop().add_reader(self._master, self._on_request)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.get_running_loop().remove_reader(self._master)
        self.stream(None)
        late, self._late = list(self._late), set()
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        self._close()

    def _close(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        if self._link is not None:
            self._link.unlink(missing_ok=True)

    def _on_request(self) -> None:
        try:
            data = os.read(self._master, CHUNK)
        except OSError:  # BlockingIOError, or EIO while the daemon reopens its end
            return
        if self._faults.link_down or self._faults.silent:
            return
        for request in self._framer.feed(data):
            reply = self._handler(request)
            if reply:
                self._reply(reply)

    def stream(self, line: Callable[[], bytes] | None, every_s: float = 0.0) -> None:
        """Send ``line()`` every ``every_s`` wall seconds unasked; None stops it.

        The lines pass the link's faults as replies do. Starting a stream replaces the last.
        """
        if self._streaming is not None:  # cancelled; __aexit__ still awaits it if pending
            self._streaming.cancel()
            self._streaming = None
        if line is None:
            return
        if every_s <= 0:
            raise ValueError(f"stream interval must be positive, got {every_s}")
        self._streaming = task = asyncio.ensure_future(self._stream(line, every_s))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def _stream(self, line: Callable[[], bytes], every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            if not (self._faults.link_down or self._faults.silent):
                self._reply(line())

    def _reply(self, reply: bytes) -> None:
        if self._faults.garble:
            reply = garble(reply)
        if self._faults.delay_s <= 0:
            self._write(reply)
            return
        task = asyncio.ensure_future(self._later(reply, self._faults.delay_s))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def _later(self, reply: bytes, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if not (self._faults.link_down or self._faults.silent):
            self._write(reply)

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # nobody reads, or the buffer is full: lost
            os.write(self._master, data)
