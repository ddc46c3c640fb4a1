"""DCON ASCII framing for the ADAM-4018/4018+: pure, no I/O.

Advantech "ADAM 4000 Series User's Manual", chapter 5 (analog input commands) and appendix B:
a frame is ``[delimiter][AA][command][data][CHK]<CR>``, upper case. A valid reply starts with
``>`` (data, ``#AA`` p. 5-13) or ``!AA`` (p. 5-9); ``?AA`` is the module refusing a command it
understood (an invalid parameter or operation, ``%AANNTTCCFF`` p. 5-5, ``$AA2`` p. 5-9); a
syntax error, a communication error (a bad checksum) or another module's address gets no reply
at all (every command page). The optional checksum is the sum of the characters before it,
modulo 0x100, as two upper-case hex digits before the CR (``$012`` -> ``$012B7``; the manual's
checksum section was not re-read, NOTES.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from drivers.errors import DeviceRejected, FramingError

CR = b"\r"
MAX_REPLY = 96  # '>' + 8 channels x 7 chars + checksum; more is garbage
OPEN_HIGH = 9999.0  # engineering-unit format saturates at +9999.9 (open wire / over range)
_VALUE = re.compile(r"[+-]\d{1,5}(?:\.\d{1,4})?")


class TcType(NamedTuple):
    """A thermocouple input range: its name, range and the decimals engineering units carry."""

    kind: str
    low_c: float
    high_c: float
    decimals: int


# Type codes (TT of ``%AANNTTCCFF`` / ``$AA2``) from appendix B's range table, pp. B-7/B-8: the
# maximum and minimum specified signals in engineering units (J ``+760.00``, T ``+400.00`` /
# ``-100.00``: 0.01 °C; K ``+1370.0``, E, R, S, B: 0.1 °C).
TC_TYPES: dict[int, TcType] = {
    0x0E: TcType("J", 0.0, 760.0, 2),
    0x0F: TcType("K", 0.0, 1370.0, 1),
    0x10: TcType("T", -100.0, 400.0, 2),
    0x11: TcType("E", 0.0, 1000.0, 1),
    0x12: TcType("R", 500.0, 1750.0, 1),
    0x13: TcType("S", 500.0, 1750.0, 1),
    0x14: TcType("B", 500.0, 1800.0, 1),
}
# The FF byte (figure 4-1, p. 4-44 of the older edition; "bits 2 to 5 are not used", p. 5-9):
ENGINEERING_UNITS = 0x00  # bits 1..0: 00 engineering units, 01 % of FSR, 10 two's complement
CHECKSUM_BIT = 0x40  # bit 6: checksum enabled
INTEGRATION_BIT = 0x80  # bit 7: 0 50 ms (60 Hz mains), 1 60 ms (50 Hz mains)


def checksum(text: str) -> str:
    """``"$012"`` -> ``"B7"``."""
    return f"{sum(text.encode('ascii')) % 0x100:02X}"


def frame(text: str, *, with_checksum: bool) -> bytes:
    """A command as sent on the wire."""
    if text != text.upper() or not text or text[0] not in "$#%@":
        raise ValueError(f"not a DCON command: {text!r}")
    return (text + (checksum(text) if with_checksum else "")).encode("ascii") + CR


def unframe(reply: bytes, *, with_checksum: bool) -> str:
    """The reply without CR and checksum; ``?AA`` raises DeviceRejected."""
    try:
        text = reply.removesuffix(CR).decode("ascii")
    except UnicodeDecodeError:
        raise FramingError(f"non-ASCII DCON reply {reply[:20]!r}") from None
    if with_checksum:
        body, chk = text[:-2], text[-2:]
        if len(text) < 3 or checksum(body) != chk:
            raise FramingError(f"DCON checksum mismatch in {text[:30]!r}")
        text = body
    if text.startswith("?"):
        raise DeviceRejected(f"module refused the command ({text})", code=0x3F)
    if not text or text[0] not in ">!":
        raise FramingError(f"not a DCON reply: {text[:30]!r}")
    return text


@dataclass(frozen=True, slots=True)
class ChannelValue:
    """One thermocouple channel in engineering units; ``open_wire`` when saturated high."""

    value_c: float
    open_wire: bool


def parse_channel(text: str) -> ChannelValue:
    """``">+1.4567"`` (reply to ``#AAN``, p. 5-15) -> its value."""
    body = text.removeprefix(">")
    if not _VALUE.fullmatch(body):
        raise FramingError(f"not a DCON channel value: {text[:30]!r}")
    value = float(body)
    return ChannelValue(value, open_wire=value >= OPEN_HIGH)


def parse_all_channels(text: str) -> list[ChannelValue]:
    """``">+1.4567+0.1234"`` (reply to ``#AA``, p. 5-13) -> every channel."""
    body = text.removeprefix(">")
    values = _VALUE.findall(body)
    if not values or "".join(values) != body:
        raise FramingError(f"not a DCON channel list: {text[:40]!r}")
    return [parse_channel(v) for v in values]


def format_value(value_c: float, decimals: int = 1) -> str:
    """A channel in engineering units: a sign, five digits and a point (p. 5-15, appendix B).

    ``(123.4)`` -> ``+0123.4``; ``(305.5, 2)`` -> ``+305.50`` (a type J or T input).
    """
    return f"{value_c:+07.{decimals}f}"


@dataclass(frozen=True, slots=True)
class ModuleConfig:
    """``$AA2`` reply ``!AATTCCFF``: input type, baud-rate code and data-format byte."""

    type_code: int
    baud_code: int
    data_format: int

    @property
    def format_bits(self) -> int:
        """Bits 1..0 of FF: 00 engineering units, 01 % of FSR, 10 two's complement hex."""
        return self.data_format & 0x03


def parse_config(text: str, address: int) -> ModuleConfig:
    """``$AA2`` reply (p. 5-9) ``"!010F0600"`` -> ModuleConfig(0x0F, 0x06, 0x00)."""
    match = re.fullmatch(r"!([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{2})", text)
    if match is None or int(match.group(1), 16) != address:
        raise FramingError(f"not a configuration reply from module {address:02X}: {text[:20]!r}")
    tt, cc, ff = (int(match.group(i), 16) for i in (2, 3, 4))
    return ModuleConfig(tt, cc, ff)


def parse_name(text: str, address: int) -> str:
    """``$AAM`` reply (p. 5-12) ``"!014018P"`` -> ``"4018P"``."""
    match = re.fullmatch(r"!([0-9A-F]{2})([0-9A-Z+]{1,8})", text)
    if match is None or int(match.group(1), 16) != address:
        raise FramingError(f"not a module name reply from module {address:02X}: {text[:20]!r}")
    return match.group(2)


def parse_diagnosis(text: str, address: int) -> int:
    """``$AAB`` reply ``!AANN`` -> the open-wire channel bitmask (4018+/4019+; NOTES.md)."""
    match = re.fullmatch(r"!([0-9A-F]{2})([0-9A-F]{2})", text)
    if match is None or int(match.group(1), 16) != address:
        raise FramingError(f"not a diagnosis reply from module {address:02X}: {text[:20]!r}")
    return int(match.group(2), 16)


class ReplySplitter:
    """Bytes in, complete CR-terminated replies out; bounded."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while (end := self._buf.find(CR)) >= 0:
            out.append(bytes(self._buf[:end]))
            del self._buf[: end + 1]
        if len(self._buf) > MAX_REPLY:
            self._buf.clear()
            raise FramingError(f"no CR within {MAX_REPLY} bytes from the module")
        return out
