"""Per-field codecs: engineering value <-> 16-bit register words.

Owned by us rather than taken from pymodbus, whose conversion helpers change between minor
releases. Word order names follow Telegraf's ``byte_order``: ``ABCD`` is big-endian with the
most significant word at the lower address (Modbus convention, Eurotherm's IEEE region);
``CDAB`` swaps the words (many PLCs and meters).
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.errors import ConfigurationError, FramingError


class WordOrder(enum.Enum):
    """Order of 16-bit words in a 32-bit value."""

    ABCD = "ABCD"
    CDAB = "CDAB"


class Kind(enum.Enum):
    """The raw type on the wire."""

    INT16 = ("h", 1)
    UINT16 = ("H", 1)
    INT32 = ("i", 2)
    UINT32 = ("I", 2)
    FLOAT32 = ("f", 2)

    @property
    def words(self) -> int:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class Codec:
    """A raw wire type plus word order; converts raw numbers, not engineering units."""

    kind: Kind
    order: WordOrder = WordOrder.ABCD

    @property
    def words(self) -> int:
        return self.kind.words

    @property
    def is_float(self) -> bool:
        return self.kind is Kind.FLOAT32

    def encode(self, raw: float) -> tuple[int, ...]:
        """Raw number -> register words. Integers must already be in range."""
        fmt = ">" + self.kind.value[0]
        if not self.is_float:
            if raw != int(raw):
                raise ConfigurationError(f"{self.kind.name} cannot hold {raw}")
            try:
                data = struct.pack(fmt, int(raw))
            except struct.error as err:
                raise ConfigurationError(f"{raw} out of range for {self.kind.name}") from err
        else:
            if not math.isfinite(raw):
                raise ConfigurationError(f"FLOAT32 value must be finite, got {raw}")
            data = struct.pack(fmt, raw)
        words = tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
        return words[::-1] if self.order is WordOrder.CDAB and len(words) == 2 else words

    def decode(self, words: Sequence[int]) -> float:
        """Register words -> raw number."""
        if len(words) != self.words or any(not 0 <= w <= 0xFFFF for w in words):
            raise FramingError(
                f"{self.kind.name} needs {self.words} words in 0..65535, got {words}"
            )
        ordered = list(words)
        if self.order is WordOrder.CDAB and len(ordered) == 2:
            ordered.reverse()
        data = b"".join(w.to_bytes(2, "big") for w in ordered)
        value: float = struct.unpack(">" + self.kind.value[0], data)[0]
        return value

    def raw_range(self) -> tuple[float, float]:
        """Smallest and largest raw value the type holds."""
        bits = 16 * self.words
        if self.kind in (Kind.INT16, Kind.INT32):
            return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if self.kind in (Kind.UINT16, Kind.UINT32):
            return (0, 2**bits - 1)
        return (-3.4028234663852886e38, 3.4028234663852886e38)


INT16 = Codec(Kind.INT16)
UINT16 = Codec(Kind.UINT16)
INT32 = Codec(Kind.INT32)
UINT32 = Codec(Kind.UINT32)
FLOAT32 = Codec(Kind.FLOAT32)
INT32_CDAB = Codec(Kind.INT32, WordOrder.CDAB)
UINT32_CDAB = Codec(Kind.UINT32, WordOrder.CDAB)
FLOAT32_CDAB = Codec(Kind.FLOAT32, WordOrder.CDAB)
