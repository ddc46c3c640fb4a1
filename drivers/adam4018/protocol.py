"""DCON ASCII framing for the ADAM-4018/4018+: pure, no I/O (reference/devices.md §D.1).

Frame: ``[delimiter][AA][command][data][CHK]<CR>``, upper case only. Valid replies start with
``>`` (data) or ``!AA``; ``?AA`` is a refusal; a bad frame gets no reply at all. The optional
checksum is the sum of all characters before it, modulo 0x100, as two upper-case hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import DeviceRejected, FramingError

CR = b"\r"
MAX_REPLY = 96  # '>' + 8 channels x 7 chars + checksum; more is garbage
OPEN_HIGH = 9999.0  # engineering-unit format saturates at +9999.9 (open wire / over range)
_VALUE = re.compile(r"[+-]\d{1,5}(?:\.\d{1,4})?")

# Thermocouple input type codes (TT in ``$AA2``/``%AANNTTCCFF``) -> (type, low °C, high °C), §D.1.
TC_TYPES: dict[int, tuple[str, float, float]] = {
    0x0E: ("J", 0.0, 760.0),
    0x0F: ("K", 0.0, 1370.0),
    0x10: ("T", -100.0, 400.0),
    0x11: ("E", 0.0, 1000.0),
    0x12: ("R", 500.0, 1750.0),
    0x13: ("S", 500.0, 1750.0),
    0x14: ("B", 500.0, 1800.0),
}
ENGINEERING_UNITS = 0x00  # data format bits 1..0 of FF (ADAM-4000 manual; see NOTES.md)


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
    """``">+1.4567"`` (reply to ``#AAN``) -> its value."""
    body = text.removeprefix(">")
    if not _VALUE.fullmatch(body):
        raise FramingError(f"not a DCON channel value: {text[:30]!r}")
    value = float(body)
    return ChannelValue(value, open_wire=value >= OPEN_HIGH)


def parse_all_channels(text: str) -> list[ChannelValue]:
    """``">+1.4567+0.1234"`` (reply to ``#AA``) -> every channel."""
    body = text.removeprefix(">")
    values = _VALUE.findall(body)
    if not values or "".join(values) != body:
        raise FramingError(f"not a DCON channel list: {text[:40]!r}")
    return [parse_channel(v) for v in values]


def format_value(value_c: float) -> str:
    """A channel in engineering units as the module sends it: ``+0123.4`` (§D.1)."""
    return f"{value_c:+07.1f}"


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
    """``"!010F0600"`` -> ModuleConfig(0x0F, 0x06, 0x00)."""
    match = re.fullmatch(r"!([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{2})", text)
    if match is None or int(match.group(1), 16) != address:
        raise FramingError(f"not a configuration reply from module {address:02X}: {text[:20]!r}")
    tt, cc, ff = (int(match.group(i), 16) for i in (2, 3, 4))
    return ModuleConfig(tt, cc, ff)


def parse_name(text: str, address: int) -> str:
    """``$AAM`` reply ``"!014018P"`` -> ``"4018P"``."""
    match = re.fullmatch(r"!([0-9A-F]{2})([0-9A-Z+]{1,8})", text)
    if match is None or int(match.group(1), 16) != address:
        raise FramingError(f"not a module name reply from module {address:02X}: {text[:20]!r}")
    return match.group(2)


def parse_diagnosis(text: str, address: int) -> int:
    """``$AAB`` reply ``!AANN`` -> the open-wire / out-of-range channel bitmask."""
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
