"""Serial clients written from the manuals' framing alone: no code from drivers/ is imported.

They check the simulators the way a program nobody here wrote would see them on the wire:

- Pfeiffer TPG 261 operating manual BG 5195 BEN / A (2011-05) chapter 5.2 (and the TPG 361/362
  protocol BG 5510 BEN §1.3): send ``MNEMONIC<CR><LF>``, read ``<ACK><CR><LF>`` (or ``<NAK>``),
  send ``<ENQ>`` (0x05), read the data line up to ``<CR><LF>``; ``COM`` sends lines unasked.
- Advantech ADAM 4000 Series User's Manual chapter 5: ``$AA2<CR>``, ``$AAM<CR>``, ``#AA<CR>``;
  replies end in ``<CR>``; a module that does not answer sends nothing at all; an optional
  checksum (sum of the characters mod 0x100, two upper-case hex digits) precedes the CR.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path
from types import TracebackType

ACK, NAK, ENQ = b"\x06", b"\x15", b"\x05"  # BG 5195 BEN chapter 5.2
CRLF, CR = b"\r\n", b"\r"


class RawPort:
    """A tty opened raw and non-blocking, read through the event loop (as a serial port)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._fd)
        self._buf = bytearray()
        self._arrived = asyncio.Event()
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)

    def __enter__(self) -> RawPort:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)

    def _on_readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._buf += os.read(self._fd, 4096)
            self._arrived.set()

    def write(self, data: bytes) -> None:
        self._buf.clear()  # what came before this request is not its answer
        os.write(self._fd, data)

    async def read_until(self, end: bytes, timeout_s: float) -> bytes | None:
        """Bytes up to ``end`` (dropped), or None when nothing complete came in time."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while (at := self._buf.find(end)) < 0:
                    self._arrived.clear()
                    await self._arrived.wait()
                line = bytes(self._buf[:at])
                del self._buf[: at + len(end)]
                return line
        return None


class TpgManualClient:
    """The two-step ACK/ENQ exchange, as BG 5195 BEN chapter 5.2 draws it."""

    def __init__(self, port: RawPort, *, timeout_s: float = 1.0) -> None:
        self._port, self._timeout_s = port, timeout_s

    async def query(self, command: str) -> str | None:
        """The data line for ``command``, or None when the gauge answers NAK."""
        self._port.write(command.encode("ascii") + CRLF)
        ack = await self._port.read_until(CRLF, self._timeout_s)
        if ack == NAK:
            return None
        assert ack == ACK, f"{command}: expected ACK or NAK, got {ack!r}"
        self._port.write(ENQ)
        data = await self._port.read_until(CRLF, self._timeout_s)
        assert data is not None, f"{command}: no data line after ENQ"
        return data.decode("ascii")

    async def continuous(self, interval_code: int, lines: int) -> list[str]:
        """``COM,x``: the ACK, then ``lines`` lines sent unasked (p. 72)."""
        self._port.write(f"COM,{interval_code}".encode("ascii") + CRLF)
        assert await self._port.read_until(CRLF, self._timeout_s) == ACK
        out = []
        for _ in range(lines):
            line = await self._port.read_until(CRLF, self._timeout_s)
            assert line is not None, "continuous output stopped"
            out.append(line.decode("ascii"))
        return out


def dcon_checksum(text: str) -> str:
    """Sum of the characters modulo 0x100, as two upper-case hex digits."""
    return f"{sum(text.encode('ascii')) % 0x100:02X}"


class DconManualClient:
    """Command ``<CR>`` out, reply ``<CR>`` back or silence (ADAM 4000 manual chapter 5)."""

    def __init__(self, port: RawPort, *, checksum: bool = False, timeout_s: float = 0.5) -> None:
        self._port, self._checksum, self._timeout_s = port, checksum, timeout_s

    async def ask(self, command: str) -> str | None:
        """The reply without its CR (and checked checksum), or None if the module stays silent."""
        suffix = dcon_checksum(command) if self._checksum else ""
        self._port.write((command + suffix).encode("ascii") + CR)
        reply = await self._port.read_until(CR, self._timeout_s)
        if reply is None:
            return None
        text = reply.decode("ascii")
        if self._checksum:
            text, chk = text[:-2], text[-2:]
            assert dcon_checksum(text) == chk, f"bad checksum in {reply!r}"
        return text
