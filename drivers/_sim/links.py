"""Fault-injecting links between the daemon and a simulator: a TCP proxy and a pty pair.

Both sit on the wire, so the daemon sees exactly what a pulled cable, a silent instrument,
a slow RS-485 adapter or line noise (bad CRC) looks like, through its real Modbus stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

CHUNK = 4096


@dataclass
class Faults:
    """What the link does to traffic right now (changed live by the backdoor)."""

    link_down: bool = False  # connections dropped, nothing passes
    silent: bool = False  # requests swallowed: no reply
    delay_s: float = 0.0  # extra reply latency, wall seconds
    corrupt_crc: bool = False  # RTU: replies arrive with a bad CRC


def _mangle(data: bytes, faults: Faults) -> bytes | None:
    """A reply as the faults let it through (None: dropped)."""
    if faults.link_down or faults.silent:
        return None
    if faults.corrupt_crc and data:
        return data[:-1] + bytes([data[-1] ^ 0xFF])
    return data


class TcpFaultProxy:
    """Forwards 127.0.0.1:``port`` to the simulator's server, applying ``faults``."""

    def __init__(self, target_port: int, faults: Faults, *, listen_port: int = 0) -> None:
        self._target = target_port
        self._faults = faults
        self._listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> TcpFaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._tasks.add(asyncio.create_task(self._watch_link(), name="proxy.watch"))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._drop_all()
        await self._server.wait_closed()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _watch_link(self) -> None:
        while True:
            if self._faults.link_down and self._writers:
                log.info("proxy: link down, dropping %d connection(s)", len(self._writers))
                self._drop_all()
            await asyncio.sleep(0.01)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._faults.link_down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pumps = (
            asyncio.create_task(self._pump(reader, up_writer, request=True)),
            asyncio.create_task(self._pump(up_reader, writer, request=False)),
        )
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
            self._tasks.discard(task)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, request: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                if request:
                    out: bytes | None = None if self._faults.silent else data
                else:
                    if self._faults.delay_s > 0:
                        await asyncio.sleep(self._faults.delay_s)
                    out = None if self._faults.silent or self._faults.link_down else data
                if self._faults.link_down:
                    return
                if out:
                    writer.write(out)
                    await writer.drain()


class PtyLink:
    """Two raw ptys relayed through the faults.

    ``device_path`` is for the daemon, ``sim_path`` for the simulator's RTU server;
    ``link_path`` (optional) is a symlink to ``device_path``.
    """

    def __init__(self, faults: Faults, *, link_path: str | None = None) -> None:
        self._faults = faults
        self._link = Path(link_path) if link_path else None
        self._fds: list[int] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.device_path = ""
        self.sim_path = ""

    def _open_pty(self) -> tuple[int, str]:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._fds += [master, slave]
        return master, os.ttyname(slave)

    async def __aenter__(self) -> PtyLink:
        self._dev_master, self.device_path = self._open_pty()
        self._sim_master, self.sim_path = self._open_pty()
        for fd in (self._dev_master, self._sim_master):
            os.set_blocking(fd, False)
        loop = asyncio.get_running_loop()
        loop.add_reader(self._dev_master, self._relay, self._dev_master, self._sim_master, True)
        loop.add_reader(self._sim_master, self._relay, self._sim_master, self._dev_master, False)
        if self._link is not None:
            self._link.unlink(missing_ok=True)
            self._link.symlink_to(self.device_path)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._dev_master, self._sim_master):
            loop.remove_reader(fd)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._link is not None:
            self._link.unlink(missing_ok=True)

    def _relay(self, src: int, dst: int, request: bool) -> None:
        try:
            data = os.read(src, CHUNK)
        except (BlockingIOError, OSError):
            return
        if request:
            if not (self._faults.link_down or self._faults.silent):
                self._write(dst, data)
            return
        out = _mangle(data, self._faults)
        if out is None:
            return
        if self._faults.delay_s > 0:
            task = asyncio.ensure_future(self._later(dst, out, self._faults.delay_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._write(dst, out)

    async def _later(self, dst: int, data: bytes, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._write(dst, data)

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(fd, data)
