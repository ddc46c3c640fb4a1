"""A simulated Pfeiffer TPG 362 with a Pirani (TPR) head on channel 1, served on a pty.

The exchange follows reference/devices.md §B.1 (TPG 261 manual BG 5195 BEN pp. 67-72): a
command line is answered ``<ACK><CR><LF>`` (``<NAK><CR><LF>`` on a bad one, which also sets a
bit in the ERR word); the data line is sent on ``<ENQ>``; ``<ETX>`` clears the pending reply.
The pressure comes from a callable (a vacuum chamber model stepped elsewhere); values outside
the head's range are reported under/over range. Assumptions are in ``NOTES.md``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from drivers._sim.ascii_pty import AsciiPty, RequestFramer
from drivers.clock import Clock
from drivers.tpg36x.backdoor import Backdoor
from drivers.tpg36x.protocol import ACK, ENQ, EOL, ETX, NAK, GaugeStatus

TPR_RANGE_MBAR = (5e-4, 1000.0)  # Pirani TPR measuring range (NOTES.md)
NO_SENSOR_LINE = b"5,2.0000E-02"  # §B.1: "No sensor (reply e.g. 5,2.0000E-2)"
CHANNELS = (1, 2)  # a TPG 362
# UNI codes (§B.1) -> factor from mbar; 5 (volt) is not modelled (NOTES.md).
UNIT_FACTORS = {0: 1.0, 1: 0.750062, 2: 100.0, 3: 750.062, 4: 1.0}


class ErrorBit(enum.IntFlag):
    """The ERR word ``aaaa`` read as binary (§B.1); reading it clears it."""

    SYNTAX = 0b0001
    INADMISSIBLE_PARAMETER = 0b0010
    NO_HARDWARE = 0b0100
    CONTROLLER = 0b1000


class _Refused(Exception):
    def __init__(self, bit: ErrorBit) -> None:
        self.bit = bit


Reply = Callable[[], bytes]


class Tpg36xSim:
    """The gauge controller; ``backdoor`` injects sensor and link faults."""

    def __init__(
        self,
        pressure_mbar: Callable[[], float],
        *,
        channel2_mbar: Callable[[], float] | None = None,
    ) -> None:
        self._sources = {1: pressure_mbar, 2: channel2_mbar}
        self.backdoor = Backdoor()
        self.unit = 0
        self.errors = ErrorBit(0)
        self.last_request_at: float | None = None  # clock time of the last request served
        self._pending: Reply | None = None
        self._clock: Clock | None = None

    # ------------------------------------------------------------------ wire
    def handle(self, request: bytes) -> bytes | None:
        """One request from the host (line without CR LF, or ENQ/ETX) -> reply bytes."""
        if self._clock is not None:
            self.last_request_at = self._clock.now()
        if request == ENQ:
            return None if self._pending is None else self._pending() + EOL
        if request == ETX:
            self._pending = None
            return None
        self._pending = None
        try:
            self._pending = self._command(request)
        except _Refused as refused:
            self.errors |= refused.bit
            return NAK + EOL
        return ACK + EOL

    def _command(self, request: bytes) -> Reply:
        try:
            mnemonic, *params = request.decode("ascii").split(",")
        except UnicodeDecodeError:
            raise _Refused(ErrorBit.SYNTAX) from None
        if mnemonic == "UNI":
            return self._uni(params)
        if params:
            raise _Refused(ErrorBit.SYNTAX)
        if mnemonic in ("PR1", "PR2"):
            return lambda: self.pressure_line(int(mnemonic[2]))
        if mnemonic == "PRX":
            return lambda: b",".join(self.pressure_line(c) for c in CHANNELS)
        if mnemonic == "TID":
            return lambda: b",".join(self._ident(c) for c in CHANNELS)
        if mnemonic == "ERR":
            return self._read_errors
        if mnemonic in ("PR3", "PR4", "PR5", "PR6"):  # channels of a TPG 366
            raise _Refused(ErrorBit.NO_HARDWARE)
        raise _Refused(ErrorBit.SYNTAX)

    def _uni(self, params: list[str]) -> Reply:
        if len(params) > 1:
            raise _Refused(ErrorBit.SYNTAX)
        if params:
            if not params[0].isdigit() or int(params[0]) not in UNIT_FACTORS:
                raise _Refused(ErrorBit.INADMISSIBLE_PARAMETER)
            self.unit = int(params[0])
        return lambda: str(self.unit).encode()

    def _read_errors(self) -> bytes:
        word, self.errors = self.errors, ErrorBit(0)
        return f"{int(word):04b}".encode()

    # ---------------------------------------------------------------- gauge
    def status(self, channel: int) -> GaugeStatus | None:
        """The sensor fault a channel reports (None: it measures)."""
        if self._sources[channel] is None:
            return GaugeStatus.NO_SENSOR
        return self.backdoor.forced_status(channel)

    def _ident(self, channel: int) -> bytes:
        return b"noSen" if self.status(channel) is GaugeStatus.NO_SENSOR else b"TPR"

    def pressure_line(self, channel: int) -> bytes:
        """``x,sx.xxxxEsxx`` for one channel, range-limited and in the current unit."""
        fault, source = self.status(channel), self._sources[channel]
        if fault is GaugeStatus.NO_SENSOR or source is None:
            return NO_SENSOR_LINE
        if fault is not None:
            return f"{int(fault)},0.0000E+00".encode()
        mbar, (low, high) = source(), TPR_RANGE_MBAR
        status = GaugeStatus.OK
        if mbar < low:
            status, mbar = GaugeStatus.UNDERRANGE, low
        elif mbar > high:
            status, mbar = GaugeStatus.OVERRANGE, high
        return f"{int(status)},{mbar * UNIT_FACTORS[self.unit]:.4E}".encode()

    # -------------------------------------------------------------- serving
    @contextlib.asynccontextmanager
    async def serving(self, *, clock: Clock, pty_link: Path) -> AsyncIterator[Path]:
        """Answer on a pty; yields ``pty_link``, the path the daemon opens as its port."""
        self._clock = clock
        framer = RequestFramer(ends=b"\r", singles=ENQ + ETX, skip=b"\n")
        async with AsciiPty(self.handle, framer, self.backdoor.faults, link_path=pty_link):
            yield pty_link
