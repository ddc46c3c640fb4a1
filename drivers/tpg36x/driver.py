"""Pfeiffer TPG 36x driver: the :class:`VacuumGauge` capability over the ACK/ENQ exchange.

Every query is one transaction on the line (TPG 261 manual BG 5195 BEN chapter 5.2, TPG 361/362
protocol BG 5510 BEN §1.3): ``MNE<CR><LF>``, the gauge's ``<ACK>`` line, then ``<ENQ>`` and the
data line. A NAK becomes DeviceRejected (with
the ERR word, read in the same transaction, as the reason); after garbage or silence the
driver sends ``<ETX>`` so the gauge drops whatever it still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from drivers._serial.line import Exchange, Line
from drivers.capabilities import PressureReading
from drivers.clock import Clock
from drivers.errors import (
    ConfigurationError,
    DeviceRejected,
    DeviceTimeout,
    DriverError,
    FramingError,
)
from drivers.tpg36x import protocol as tpg

log = logging.getLogger(__name__)

MBAR = b"0"  # UNI code for mbar/bar (BG 5195 BEN chapter 5.2; NOTES.md)
CHANNELS = range(1, 7)  # PR1..PR6 (a TPG 366 has six)
T = TypeVar("T")


def _raw(line: bytes) -> bytes:
    return line


class Tpg36x:
    """One channel of a TPG 361/362/366 gauge controller on a serial line."""

    def __init__(
        self, line: Line, *, channel: int = 1, clock: Clock, timeout_s: float = 1.0
    ) -> None:
        if channel not in CHANNELS:
            raise ConfigurationError(f"TPG 36x channel must be 1..6, got {channel}")
        self._line, self._channel, self._clock = line, channel, clock
        self._timeout_s = timeout_s
        self._last_status: str | None = None

    async def connect(self) -> None:
        """Make sure the gauge reports mbar and log its sensor identification."""
        unit = await self._query(_raw, "UNI")
        if unit != MBAR:
            log.info("TPG 36x: unit code %r, switching to mbar", unit)
            unit = await self._query(_raw, "UNI", 0)
            if unit != MBAR:
                raise ConfigurationError(f"TPG 36x kept unit code {unit!r} after UNI,0")
        ident = await self._query(_raw, "TID")
        log.info("TPG 36x channel %d: sensors %s", self._channel, ident.decode("ascii", "replace"))

    async def read(self) -> PressureReading:
        value = await self._query(tpg.parse_pressure, f"PR{self._channel}")
        status = value.status.text
        if status != self._last_status:
            log.log(
                logging.INFO if value.valid else logging.WARNING,
                "TPG 36x channel %d: %s",
                self._channel,
                status,
            )
            self._last_status = status
        return PressureReading(
            at=self._clock.now(), mbar=value.value if value.valid else None, status=status
        )

    async def _query(self, parse: Callable[[bytes], T], mnemonic: str, *params: int) -> T:
        """One command and its parsed data line, in one transaction."""
        async with self._line.transaction() as tx:
            try:
                return parse(await self._two_step(tx, tpg.command(mnemonic, *params)))
            except DeviceRejected as refused:
                reason = await self._error_word(tx)
                raise DeviceRejected(
                    f"TPG 36x refused {mnemonic}: {reason}", code=refused.code
                ) from refused
            except (FramingError, DeviceTimeout):
                await tx.send(tpg.ETX)
                raise

    async def _two_step(self, tx: Exchange, request: bytes) -> bytes:
        ack = await tx.ask(
            request, until=tpg.EOL, timeout_s=self._timeout_s, max_bytes=tpg.MAX_LINE
        )
        tpg.check_ack(ack)
        return await tx.ask(
            tpg.ENQ, until=tpg.EOL, timeout_s=self._timeout_s, max_bytes=tpg.MAX_LINE
        )

    async def _error_word(self, tx: Exchange) -> str:
        """The gauge's ERR word after a NAK (reading it also clears it)."""
        try:
            names = tpg.parse_error_word(await self._two_step(tx, tpg.command("ERR")))
        except DriverError as err:
            return f"error word unreadable ({err})"
        return ", ".join(names) or "no error reported"
