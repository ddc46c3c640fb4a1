"""One serial line for ASCII request/reply devices, on pyserial-asyncio-fast (never blocking).

The only module that imports ``serial_asyncio_fast``; every library error is wrapped here into
:mod:`drivers.errors`. A driver talks to the line through :meth:`SerialLine.transaction`, which
holds the line's lock (one exchange at a time, even with several modules on one RS-485 bus),
opens the port when it is closed, and yields an :class:`Exchange`. A lost port (``OSError``,
e.g. a USB adapter unplugged) closes the line and raises :class:`LinkDown`; the next transaction
reopens it. Link loss and recovery are logged once each, not on every failed attempt.

Timeouts are wall seconds: the device at the other end runs in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import termios
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

import serial_asyncio_fast

from drivers.errors import DeviceTimeout, FramingError, LinkDown

log = logging.getLogger(__name__)

RX_LIMIT = 4096  # bytes kept between reads; older bytes are dropped (they are stale anyway)
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialSettings:
    """Port and character format (a /dev/tty* device or a pty slave path)."""

    port: str
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class Exchange(Protocol):
    """What a driver does inside one transaction."""

    async def ask(self, request: bytes, *, until: bytes, timeout_s: float, max_bytes: int) -> bytes:
        """Flush stale input, send ``request``, return the reply up to ``until`` (excluded)."""

    async def send(self, data: bytes) -> None:
        """Send bytes that get no reply (e.g. a buffer-clearing control character)."""


class Line(Protocol):
    """The seam between ASCII drivers and the wire; tests plug a fake in here."""

    def transaction(self) -> AbstractAsyncContextManager[Exchange]: ...


class _Receiver(asyncio.Protocol):
    """Collects received bytes for one open port."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        self.gone = False
        self.error: BaseException | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > RX_LIMIT:
            del self.buffer[:-RX_LIMIT]
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone, self.error = True, exc
        self.arrived.set()
        if not self.closed.done():
            self.closed.set_result(None)


class _Session:
    """An :class:`Exchange` on the port that was open when the transaction began."""

    def __init__(self, line: SerialLine, transport: asyncio.Transport, rx: _Receiver) -> None:
        self._line, self.transport, self.rx = line, transport, rx

    def _check(self) -> None:
        if self.rx.gone:
            raise self._line._lost(self.rx.error)

    async def send(self, data: bytes) -> None:
        self._check()
        try:
            self.transport.write(data)
        except OSError as err:
            raise self._line._lost(err) from err

    async def ask(self, request: bytes, *, until: bytes, timeout_s: float, max_bytes: int) -> bytes:
        rx = self.rx
        rx.buffer.clear()
        await self.send(request)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            end = rx.buffer.find(until)
            if 0 <= end <= max_bytes:
                reply = bytes(rx.buffer[:end])
                del rx.buffer[: end + len(until)]
                return reply
            if end > max_bytes or len(rx.buffer) > max_bytes:
                junk = bytes(rx.buffer[:20])
                rx.buffer.clear()
                raise FramingError(
                    f"{self._line.name}: no {until!r} within {max_bytes} bytes {junk!r}"
                )
            self._check()
            rx.arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await rx.arrived.wait()
            except TimeoutError:
                if rx.buffer:
                    junk = bytes(rx.buffer[:20])
                    rx.buffer.clear()
                    raise FramingError(
                        f"{self._line.name}: incomplete reply {junk!r} after {timeout_s} s"
                    ) from None
                raise DeviceTimeout(f"{self._line.name}: no reply within {timeout_s} s") from None


class SerialLine:
    """An ASCII serial line shared by the drivers of the devices on it."""

    def __init__(self, settings: SerialSettings) -> None:
        self.settings = settings
        self.name = settings.port
        self._lock = asyncio.Lock()
        self._session: _Session | None = None
        self._down_logged = False
        self._ever_open = False

    @property
    def connected(self) -> bool:
        return self._session is not None and not self._session.rx.gone

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Exchange]:
        """Hold the line, open it if needed, and yield the exchange primitives."""
        async with self._lock:
            session = self._session
            if session is None or session.rx.gone:
                session = await self._open()
            yield session

    async def open(self) -> None:
        """Open the port now (transactions also open it on demand); raises LinkDown."""
        async with self._lock:
            if not self.connected:
                await self._open()

    async def close(self) -> None:
        async with self._lock:
            await self._close()

    async def _open(self) -> _Session:
        await self._close()
        s, rx = self.settings, _Receiver()
        try:
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                asyncio.get_running_loop(),
                lambda: rx,
                s.port,
                baudrate=s.baudrate,
                parity=s.parity,
                stopbits=s.stopbits,
                bytesize=s.bytesize,
            )
        except (OSError, ValueError, termios.error) as err:  # termios: settings the port refuses
            if not self._down_logged:
                log.warning("serial line %s cannot be opened: %s", self.name, err)
                self._down_logged = True
            raise LinkDown(f"cannot open serial line {self.name}: {err}") from err
        self._session = _Session(self, transport, rx)
        if self._down_logged:
            log.warning("serial line %s is back", self.name)
        elif not self._ever_open:
            log.info("serial line %s open at %d baud", self.name, s.baudrate)
        self._down_logged, self._ever_open = False, True
        return self._session

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if not session.transport.is_closing():
            session.transport.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(session.rx.closed), CLOSE_TIMEOUT_S)

    def _lost(self, err: BaseException | None) -> LinkDown:
        """The port failed under a transaction: close it (the next one reopens) and say so."""
        if not self._down_logged:
            log.warning("serial line %s lost: %s", self.name, err or "port closed")
            self._down_logged = True
        if self._session is not None and not self._session.transport.is_closing():
            self._session.transport.abort()
        self._session = None
        return LinkDown(f"serial line {self.name} lost: {err or 'port closed'}")
