"""Fault-injecting links between the daemon and a simulator: a TCP proxy and a pty pair.

Both sit on the wire, so the daemon sees exactly what a pulled cable, a silent instrument,
a slow RS-485 adapter or line noise (bad CRC) looks like, through its real Modbus stack.
:class:`Faults` is read on every chunk of traffic, so flipping a field takes effect at once; the
ASCII devices' pty (:mod:`drivers._sim.ascii_pty`) reads the same fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

CHUNK = 4096
FRAME_GAP_S = 0.004  # RTU replies end after this much silence (3.5 chars at 9600 baud)


@dataclass
class Faults:
    """What the link does to traffic right now (changed live by the backdoor)."""

    link_down: bool = False  # connections dropped, nothing passes
    silent: bool = False  # requests swallowed: no reply
    delay_s: float = 0.0  # extra reply latency, wall seconds
    corrupt_crc: bool = False  # RTU: replies arrive with their last CRC byte flipped
    garble: bool = False  # ASCII (drivers._sim.ascii_pty): every reply corrupted


class TcpFaultProxy:
    """Forwards 127.0.0.1:``port`` to the simulator's server on ``target_port``."""

    def __init__(self, target_port: int, faults: Faults, *, listen_port: int = 0) -> None:
        self._target = target_port
        self._faults = faults
        self._listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[object]] = set()
        self.port = 0

    async def __aenter__(self) -> TcpFaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._spawn(self._watch_link())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in self._tasks:  # the watcher and the pumps, never asyncio's handler tasks
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drop_all()
        if self._handlers:  # they finish once their pumps are gone
            await asyncio.wait(self._handlers, timeout=1.0)
        await self._server.wait_closed()
        self._server = None

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drop_all(self) -> None:
        writers, self._writers = list(self._writers), set()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _watch_link(self) -> None:
        while True:
            if self._faults.link_down and self._writers:
                log.info("proxy: link down, dropping %d connection(s)", len(self._writers) // 2)
                await self._drop_all()
            await asyncio.sleep(0.01)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One daemon connection (run by asyncio's server, so it must not be cancelled)."""
        me = asyncio.current_task()
        if me is not None:
            self._handlers.add(me)
        pair = {writer}
        try:
            if self._faults.link_down or self._server is None:
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
            except OSError:
                return
            pair.add(up_writer)
            self._writers.update(pair)
            pumps = (
                self._spawn(self._pump(reader, up_writer, request=True)),
                self._spawn(self._pump(up_reader, writer, request=False)),
            )
            await asyncio.wait(pumps)
        finally:
            for w in pair:
                self._writers.discard(w)
                w.close()
            for w in pair:
                with contextlib.suppress(OSError):
                    await w.wait_closed()
            if me is not None:
                self._handlers.discard(me)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, request: bool
    ) -> None:
        """Copy one direction until EOF; closing the writer ends the other direction too."""
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                if not request and self._faults.delay_s > 0:
                    await asyncio.sleep(self._faults.delay_s)
                if self._faults.link_down:
                    break
                if not self._faults.silent:
                    writer.write(data)
                    await writer.drain()
        writer.close()


class PtyLink:
    """Two raw ptys relayed through the faults.

    ``device_path`` is for the daemon, ``sim_path`` for the simulator's RTU server;
    ``link_path`` (optional) is a symlink to ``device_path``, removed on exit. The link keeps
    both slave ends open itself, so either side may open and close its end at any time.
    """

    def __init__(self, faults: Faults, *, link_path: str | None = None) -> None:
        self._faults = faults
        self._link = Path(link_path) if link_path else None
        self._fds: list[int] = []
        self._dev_master = self._sim_master = -1
        self._reply = bytearray()  # reply bytes waiting for the end-of-frame gap
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.device_path = ""
        self.sim_path = ""

    def _open_pty(self) -> tuple[int, str]:
        master, slave = os.openpty()
        self._fds += [master, slave]
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        return master, os.ttyname(slave)

    async def __aenter__(self) -> PtyLink:
        try:
            self._dev_master, self.device_path = self._open_pty()
            self._sim_master, self.sim_path = self._open_pty()
            if self._link is not None:
                self._link.unlink(missing_ok=True)
                self._link.symlink_to(self.device_path)
        except BaseException:
            self._close_fds()
            raise
        loop = asyncio.get_running_loop()
        loop.add_reader(self._dev_master, self._on_request)
        loop.add_reader(self._sim_master, self._on_reply)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._dev_master)
        loop.remove_reader(self._sim_master)
        if self._flush is not None:
            self._flush.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._close_fds()
        if self._link is not None:
            self._link.unlink(missing_ok=True)

    def _close_fds(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    @staticmethod
    def _read(fd: int) -> bytes:
        try:
            return os.read(fd, CHUNK)
        except OSError:  # BlockingIOError, or EIO while a side is reopening
            return b""

    def _on_request(self) -> None:
        data = self._read(self._dev_master)
        if data and not (self._faults.link_down or self._faults.silent):
            self._write(self._sim_master, data)

    def _on_reply(self) -> None:
        data = self._read(self._sim_master)
        if not data:
            return
        self._reply += data
        if self._flush is not None:
            self._flush.cancel()
        self._flush = asyncio.get_running_loop().call_later(FRAME_GAP_S, self._reply_frame)

    def _reply_frame(self) -> None:
        """A whole reply frame went quiet: pass it on as the faults allow."""
        frame, self._reply, self._flush = bytes(self._reply), bytearray(), None
        faults = self._faults
        if faults.link_down or faults.silent:
            return
        if faults.corrupt_crc:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if faults.delay_s > 0:
            task = asyncio.ensure_future(self._later(frame, faults.delay_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._write(self._dev_master, frame)

    async def _later(self, frame: bytes, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if not self._faults.link_down:
            self._write(self._dev_master, frame)

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the reader is gone or its buffer is full: lost
            os.write(fd, data)
