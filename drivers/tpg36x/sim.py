"""A simulated Pfeiffer TPG 362 with a Pirani (TPR) head on channel 1, served on a pty.

The exchange follows the TPG 261 operating manual BG 5195 BEN / A (2011-05) chapter 5.2, whose
mnemonics the TPG 361/362 protocol BG 5510 BEN / A (2015-02) §1.3-1.4 keeps: a command line is
answered ``<ACK><CR><LF>`` (``<NAK><CR><LF>`` on a bad one, which also sets a bit in the ERR
word); the data line is sent on ``<ENQ>``; ``<ETX>`` clears the input buffer. ``COM`` starts
continuous output (p. 72) until the next command. The pressure comes from a callable (a vacuum
chamber model stepped elsewhere); values outside the head's range are reported under/over
range. The parameter mnemonics are in :mod:`drivers.tpg36x.sim_settings`; assumptions are in
``NOTES.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from drivers._sim.ascii_pty import AsciiPty, RequestFramer
from drivers.clock import Clock
from drivers.tpg36x.backdoor import Backdoor
from drivers.tpg36x.protocol import ACK, ENQ, EOL, ETX, NAK, GaugeStatus, format_pressure
from drivers.tpg36x.sim_settings import (
    SEN_CODES,
    UNIT_FACTORS,
    ErrorBit,
    GaugeSettings,
    Refused,
    codes_line,
    parse_codes,
)

TPR_RANGE_MBAR = (5e-4, 1000.0)  # Pirani TPR measuring range (NOTES.md)
NO_SENSOR_MBAR = 2.0e-2  # p. 71: "No sensor (output: 5,2.0000E-2 [mbar])"
CHANNELS = (1, 2)  # a TPG 362
SEN_CANNOT_SWITCH, SEN_OFF = 0, 1  # SEN read-back codes (NOTES.md)

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
        self.settings = GaugeSettings()
        self.errors = ErrorBit(0)
        self.continuous_s: float | None = None  # COM output interval while it runs
        self.last_request_at: float | None = None  # clock time of the last request served
        self._pending: Reply | None = None
        self._clock: Clock | None = None
        self._pty: AsciiPty | None = None

    @property
    def unit(self) -> int:
        """The ``UNI`` code pressures are reported in."""
        return self.settings.unit

    @unit.setter
    def unit(self, code: int) -> None:
        self.settings.unit = code

    # ------------------------------------------------------------------ wire
    def handle(self, request: bytes) -> bytes | None:
        """One request from the host (line without CR LF, or ENQ/ETX) -> reply bytes."""
        if self._clock is not None:
            self.last_request_at = self._clock.now()
        if request == ENQ:
            return None if self._pending is None else self._pending() + EOL
        self._pending = None
        self._continuous(None)  # any input ends continuous output (NOTES.md)
        if request == ETX:
            return None
        try:
            self._pending = self._command(request)
        except Refused as refused:
            self.errors |= refused.bit
            return NAK + EOL
        return ACK + EOL

    def _command(self, request: bytes) -> Reply | None:
        try:
            mnemonic, *params = request.decode("ascii").replace(" ", "").split(",")
        except UnicodeDecodeError:
            raise Refused(ErrorBit.SYNTAX) from None
        setting = {"UNI": self.settings.uni, "BAU": self.settings.bau, "FSR": self.settings.fsr}
        if mnemonic in setting:
            line = setting[mnemonic](params)
            return lambda: line
        if mnemonic == "SEN":
            return self._sen(params)
        if mnemonic == "COM":
            self._continuous(self.settings.com(params))
            return None  # the data comes unasked, no ENQ needed (p. 72)
        if params:
            raise Refused(ErrorBit.SYNTAX)
        return self._query(mnemonic)

    def _query(self, mnemonic: str) -> Reply:
        if mnemonic in ("PR1", "PR2"):
            return lambda: self.pressure_line(int(mnemonic[2]))
        if mnemonic == "PRX":
            return self.prx_line
        if mnemonic == "TID":
            return lambda: b",".join(self._ident(c) for c in CHANNELS)
        if mnemonic == "ERR":
            return self._read_errors
        if mnemonic in ("PR3", "PR4", "PR5", "PR6"):  # channels of a TPG 366
            raise Refused(ErrorBit.NO_HARDWARE)
        raise Refused(ErrorBit.SYNTAX)

    def _sen(self, params: list[str]) -> Reply:
        """``SEN[,x,x]``: a Pirani head cannot be switched, so a request changes nothing."""
        parse_codes(params, len(CHANNELS), SEN_CODES)
        return lambda: codes_line([self._sen_state(c) for c in CHANNELS])

    def _sen_state(self, channel: int) -> int:
        return SEN_OFF if self.status(channel) is GaugeStatus.SENSOR_OFF else SEN_CANNOT_SWITCH

    def _read_errors(self) -> bytes:
        word, self.errors = self.errors, ErrorBit(0)
        return f"{int(word):04b}".encode()

    def _continuous(self, interval_s: float | None) -> None:
        if interval_s == self.continuous_s:
            return
        self.continuous_s = interval_s
        if self._pty is not None:
            line = None if interval_s is None else (lambda: self.prx_line() + EOL)
            self._pty.stream(line, interval_s or 0.0)

    # ---------------------------------------------------------------- gauge
    def status(self, channel: int) -> GaugeStatus | None:
        """The sensor fault a channel reports (None: it measures)."""
        if self._sources[channel] is None:
            return GaugeStatus.NO_SENSOR
        return self.backdoor.forced_status(channel)

    def _ident(self, channel: int) -> bytes:
        return b"noSen" if self.status(channel) is GaugeStatus.NO_SENSOR else b"TPR"

    def pressure_line(self, channel: int) -> bytes:
        """``x,sx.xxxxEsxx`` for one channel (p. 71), range-limited and in the current unit."""
        fault, source = self.status(channel), self._sources[channel]
        if fault is GaugeStatus.NO_SENSOR or source is None:
            return format_pressure(GaugeStatus.NO_SENSOR, NO_SENSOR_MBAR)
        if fault is not None:
            return format_pressure(fault, 0.0)
        mbar, (low, high) = source(), TPR_RANGE_MBAR
        status = GaugeStatus.OK
        if mbar < low:
            status, mbar = GaugeStatus.UNDERRANGE, low
        elif mbar > high:
            status, mbar = GaugeStatus.OVERRANGE, high
        return format_pressure(status, mbar * UNIT_FACTORS[self.unit])

    def prx_line(self) -> bytes:
        """Both channels, ``x,sx.xxxxEsxx,y,sy.yyyyEsyy`` (``PRX`` and ``COM``, pp. 71-72)."""
        return b",".join(self.pressure_line(c) for c in CHANNELS)

    # -------------------------------------------------------------- serving
    @contextlib.asynccontextmanager
    async def serving(self, *, clock: Clock, pty_link: Path) -> AsyncIterator[Path]:
        """Answer on a pty; yields ``pty_link``, the path the daemon opens as its port."""
        self._clock = clock
        framer = RequestFramer(ends=b"\r", singles=ENQ + ETX, skip=b"\n")
        pty = AsciiPty(self.handle, framer, self.backdoor.faults, link_path=pty_link)
        async with pty:
            self._pty = pty
            try:
                yield pty_link
            finally:
                self._pty, self.continuous_s = None, None
