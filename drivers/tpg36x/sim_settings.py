"""The simulated TPG 362's parameter mnemonics: UNI, BAU, FSR, SEN and COM (pure, no I/O).

Each mnemonic without parameters reads the setting; with parameters it sets it and the data
line (sent on ``<ENQ>``) reads it back. Sources (Pfeiffer TPG 261 operating manual
BG 5195 BEN / A (2011-05), chapter 5.2 "Mnemonics"; the TPG 361/362 communication protocol
BG 5510 BEN / A (2015-02) lists the same mnemonics in §1.4):

* ``COM[,x]``: p. 72, interval x = 0 100 ms, 1 1 s (default), 2 1 min; ``<ACK>`` is followed
  at once by the continuous output of ``PRX``-format lines.
* ``FSR[,x,x]``: p. 78, full scale of linear gauges per gauge, x = 0 0.01 mbar, 1 0.1 mbar,
  2 1 mbar, 3 10 mbar, 4 100 mbar, 5 1000 mbar (default), 6 2 bar, 7 5 bar, 8 10 bar, 9 50 bar.
* ``UNI[,x]``: 0 mbar/bar, 1 Torr, 2 Pa, 3 Micron, 4 hPa, 5 V (BG 5195 BEN §5.2; the page
  was not re-read for this table, NOTES.md).
* ``BAU[,x]`` and ``SEN[,x,x]``: their pages were not found; the codes used are assumptions
  in ``NOTES.md``.

A bad parameter count or a non-digit is a syntax error, a value outside the table an
inadmissible parameter (the ``ERR`` word ``aaaa``, BG 5195 BEN §5.2; bits in NOTES.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

UNIT_FACTORS = {0: 1.0, 1: 0.750062, 2: 100.0, 3: 750.062, 4: 1.0}  # UNI code -> per mbar
BAUD_CODES = range(7)  # NOTES.md: 0 9600 (default) .. 6 115200 [U]
FSR_CODES = range(10)  # p. 78
FSR_DEFAULT = 5  # 1000 mbar, p. 78
SEN_CODES = range(3)  # set: 0 no change, 1 off, 2 on; read: 0 cannot be switched [U]
COM_INTERVALS_S = {0: 0.1, 1: 1.0, 2: 60.0}  # p. 72
COM_DEFAULT = 1  # p. 72


class ErrorBit(enum.IntFlag):
    """The ERR word ``aaaa`` read as binary; reading it clears it (NOTES.md)."""

    SYNTAX = 0b0001
    INADMISSIBLE_PARAMETER = 0b0010
    NO_HARDWARE = 0b0100
    CONTROLLER = 0b1000


class Refused(Exception):
    """The gauge answers ``<NAK>`` and sets ``bit`` in its error word."""

    def __init__(self, bit: ErrorBit) -> None:
        super().__init__(bit.name)
        self.bit = bit


def parse_codes(params: list[str], count: int, allowed: range) -> list[int] | None:
    """``count`` integer parameters from ``allowed``, or None when there are none (a read)."""
    if not params:
        return None
    if len(params) != count or not all(p.isdigit() for p in params):
        raise Refused(ErrorBit.SYNTAX)
    codes = [int(p) for p in params]
    if any(code not in allowed for code in codes):
        raise Refused(ErrorBit.INADMISSIBLE_PARAMETER)
    return codes


def codes_line(codes: list[int]) -> bytes:
    """``[5, 5]`` -> ``b"5,5"``: how every one of these settings is read back."""
    return ",".join(str(c) for c in codes).encode("ascii")


@dataclass(slots=True)
class GaugeSettings:
    """What a host can read and set on the simulated controller (two channels)."""

    unit: int = 0
    baud: int = 0
    full_scale: list[int] = field(default_factory=lambda: [FSR_DEFAULT, FSR_DEFAULT])
    com_interval: int = COM_DEFAULT

    def uni(self, params: list[str]) -> bytes:
        if (codes := parse_codes(params, 1, range(max(UNIT_FACTORS) + 1))) is not None:
            self.unit = codes[0]
        return codes_line([self.unit])

    def bau(self, params: list[str]) -> bytes:
        if (codes := parse_codes(params, 1, BAUD_CODES)) is not None:
            self.baud = codes[0]  # a pty has no line rate: nothing else changes
        return codes_line([self.baud])

    def fsr(self, params: list[str]) -> bytes:
        if (codes := parse_codes(params, 2, FSR_CODES)) is not None:
            self.full_scale = codes
        return codes_line(self.full_scale)

    def com(self, params: list[str]) -> float:
        """Start continuous output: the interval in seconds."""
        if (codes := parse_codes(params, 1, range(len(COM_INTERVALS_S)))) is not None:
            self.com_interval = codes[0]
        return COM_INTERVALS_S[self.com_interval]
