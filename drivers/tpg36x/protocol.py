"""The TPG 36x exchange, as bytes: pure framing and parsing (no I/O).

Pfeiffer TPG 261 operating manual BG 5195 BEN / A (2011-05) chapter 5.2 (pp. 67-72) and the
TPG 361/362 communication protocol BG 5510 BEN / A (2015-02) §1.2-1.3: the host sends
``MNE[,params]<CR>[<LF>]``; the gauge answers ``<ACK><CR><LF>`` (``<NAK>`` on a bad command);
the host sends ``<ENQ>``; the gauge sends one data line; ``<ETX>`` clears its input buffer.
A pressure line is ``x,sx.xxxxEsxx`` (p. 71): status digit ``x``, then the value with its sign
``s``, always in exponential format, e.g. ``0,+1.0000E+03``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from drivers.errors import DeviceRejected, FramingError

ACK, NAK, ENQ, ETX = b"\x06", b"\x15", b"\x05", b"\x03"
EOL = b"\r\n"
MAX_LINE = 80  # longest reply (PRX with two channels is 27 bytes); more is garbage
# The manual's sign is accepted but not required (lenient with clones that drop it).
_PRESSURE = re.compile(rb"^([0-9]),([+-]?\d\.\d{4}E[+-]\d{2})$")


class GaugeStatus(enum.IntEnum):
    """The status digit in front of every pressure value.

    TPG 261 manual BG 5195 BEN / A (2011-05) p. 71 (``PRx``/``PRX``; the same table for ``COM``
    on p. 72): 0 measurement data okay, 1 underrange, 2 overrange, 3 sensor error, 4 sensor off
    (IKR, PKR, IMR, PBR heads; a Pirani TPR is never off), 5 no sensor (output ``5,2.0000E-2``),
    6 identification error. Only 0 carries a measurement. Any other digit (Inficon VGC clones
    add 7) is a FramingError: the driver gives no value. What each status means in each cast
    step is in ``labctl/cast/device_status.py``.
    """

    OK = 0
    UNDERRANGE = 1
    OVERRANGE = 2
    SENSOR_ERROR = 3
    SENSOR_OFF = 4
    NO_SENSOR = 5
    IDENTIFICATION_ERROR = 6

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True, slots=True)
class PressureReading:
    """One channel: status and value in the gauge's current unit (mbar by default)."""

    status: GaugeStatus
    value: float

    @property
    def valid(self) -> bool:
        return self.status is GaugeStatus.OK


def command(mnemonic: str, *params: int) -> bytes:
    r"""``PR1`` -> ``b"PR1\\r\\n"``; ``("UNI", 0)`` -> ``b"UNI,0\\r\\n"``."""
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]", mnemonic):
        raise ValueError(f"not a TPG mnemonic: {mnemonic!r}")
    text = ",".join([mnemonic, *(str(p) for p in params)])
    return text.encode("ascii") + EOL


def check_ack(line: bytes) -> None:
    """The gauge's answer to a command line (without CR LF): ACK, or a refusal."""
    if line == ACK:
        return
    if line == NAK:
        raise DeviceRejected("gauge refused the command (NAK)", code=0x15)
    raise FramingError(f"expected ACK or NAK from the gauge, got {line[:20]!r}")


def format_pressure(status: GaugeStatus, value: float) -> bytes:
    """``(OK, 1000.0)`` -> ``b"0,+1.0000E+03"``: one channel as the gauge sends it (p. 71)."""
    return f"{int(status)},{value:+.4E}".encode("ascii")


def parse_pressure(line: bytes) -> PressureReading:
    """``b"0,+1.2340E+02"`` -> PressureReading(OK, 123.4)."""
    match = _PRESSURE.fullmatch(line)
    if match is None:
        raise FramingError(f"not a TPG pressure line: {line[:40]!r}")
    digit = int(match.group(1))
    if digit > max(GaugeStatus):
        raise FramingError(f"unknown gauge status {digit}")
    return PressureReading(GaugeStatus(digit), float(match.group(2)))


def parse_error_word(line: bytes) -> tuple[str, ...]:
    """``ERR`` reply ``aaaa`` -> the errors it names (empty: none; bit order in NOTES.md)."""
    if not re.fullmatch(rb"[01]{4}", line):
        raise FramingError(f"not a TPG error word: {line[:20]!r}")
    names = ("controller error", "no hardware", "inadmissible parameter", "syntax error")
    return tuple(name for bit, name in zip(line.decode(), names, strict=True) if bit == "1")


class LineSplitter:
    """Bytes in, complete lines out (without CR LF); bounded, so garbage cannot grow it."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        lines: list[bytes] = []
        while (end := self._buf.find(EOL)) >= 0:
            lines.append(bytes(self._buf[:end]))
            del self._buf[: end + len(EOL)]
        if len(self._buf) > MAX_LINE:
            self._buf.clear()
            raise FramingError(f"no line end within {MAX_LINE} bytes from the gauge")
        return lines
