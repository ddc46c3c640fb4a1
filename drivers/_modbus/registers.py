"""Declarative register tables shared by a device's driver, its simulator and the tests.

A :class:`Register` describes one datum on the wire in engineering units; a
:class:`RegisterMap` is a device family's whole table. The driver reads and writes through
it, the simulator's :class:`~drivers._modbus.bank.RegisterBank` stores raw words by it, and the
golden-vector tests pin it, so the three cannot disagree on address, sign, word order or scale.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from drivers._modbus.codecs import UINT16, Codec
from drivers.errors import ConfigurationError


class Table(enum.Enum):
    """Modbus data tables."""

    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class Poll(enum.Enum):
    """How often a register is read by the polling loop."""

    FAST = "fast"  # every control tick
    SLOW = "slow"  # every Nth tick (configuration, diagnostics)
    NEVER = "never"  # read on demand only (write-then-verify targets, programmer segments)


@dataclass(frozen=True, slots=True, kw_only=True)
class Register:
    """One datum on the wire.

    ``engineering = raw * scale / 10**decimals``; encoding rounds to the nearest raw step.
    ``nonvolatile`` marks parameters stored in EEPROM/flash: drivers must never stream them.
    """

    name: str
    address: int  # zero-based PDU address, as sent on the wire
    table: Table = Table.HOLDING
    codec: Codec = UINT16
    decimals: int = 0
    scale: float = 1.0
    unit: str = ""
    writable: bool = False
    nonvolatile: bool = False
    limits: tuple[float, float] | None = None  # engineering units, enforced on write
    poll: Poll = Poll.NEVER
    ref: str = ""  # where the fact comes from: document number, section or page
    # The vendor's manual lists this address. False marks a register taken from anything else
    # (another model's manual, a third-party driver, an assumption): ``ref`` says what, the
    # family's NOTES.md lists it, and the read planner never coalesces across it.
    documented: bool = True

    @property
    def words(self) -> int:
        return 1 if self.table.is_bits else self.codec.words

    @property
    def end(self) -> int:
        """One past the last address this register occupies."""
        return self.address + self.words

    @property
    def resolution(self) -> float:
        """Smallest engineering step."""
        return self.scale / float(10**self.decimals)

    def to_raw(self, value: float) -> float:
        """Engineering value -> raw number, after checking limits and the raw type's range."""
        if self.limits is not None and not self.limits[0] <= value <= self.limits[1]:
            low, high = self.limits
            raise ConfigurationError(f"{self.name}: {value} {self.unit} outside {low}..{high}")
        raw: float = value / self.resolution
        if not self.codec.is_float:
            raw = round(raw)
        low, high = self.codec.raw_range()
        if not low <= raw <= high:
            raise ConfigurationError(f"{self.name}: {value} {self.unit} does not fit the register")
        return raw

    def encode(self, value: float) -> tuple[int, ...]:
        """Engineering value -> register words (bits: one word holding 0 or 1)."""
        if self.table.is_bits:
            return (1 if value else 0,)
        return self.codec.encode(self.to_raw(value))

    def decode(self, words: Sequence[int]) -> float:
        """Register words -> engineering value."""
        if self.table.is_bits:
            return 1.0 if words[0] else 0.0
        raw = self.codec.decode(words)
        value = raw * self.resolution
        return round(value, self.decimals) if not self.codec.is_float else value


@dataclass(frozen=True, slots=True)
class DocumentedSpan:
    """Addresses ``first..last`` of ``table`` that the manual lists, used by labctl or not.

    A read block may span them (the unit answers them), so ``ref`` (the page) is required.
    """

    table: Table
    first: int
    last: int
    ref: str

    def __post_init__(self) -> None:
        if not self.ref or self.last < self.first:
            raise ConfigurationError(f"documented span {self.first}..{self.last} needs a ref")


class RegisterMap:
    """A device family's register table: unique names, no overlapping addresses.

    ``documented`` adds spans of addresses the manual lists that no register uses; an address
    is documented (:meth:`is_documented`) when a documented register or such a span covers it.
    """

    def __init__(
        self, registers: Iterable[Register], *, documented: Iterable[DocumentedSpan] = ()
    ) -> None:
        self._by_name: dict[str, Register] = {}
        for reg in registers:
            if reg.name in self._by_name:
                raise ConfigurationError(f"duplicate register name {reg.name!r}")
            self._by_name[reg.name] = reg
        for table in Table:
            regs = sorted(
                (r for r in self._by_name.values() if r.table is table), key=lambda r: r.address
            )
            for a, b in itertools.pairwise(regs):
                if b.address < a.end:
                    raise ConfigurationError(
                        f"{a.name} ({a.address}..{a.end - 1}) overlaps {b.name} at {b.address}"
                    )
        self.spans = tuple(documented)
        regs = [r for r in self._by_name.values() if r.documented]
        self._documented = frozenset(
            (r.table, a) for r in regs for a in range(r.address, r.end)
        ) | frozenset((s.table, a) for s in self.spans for a in range(s.first, s.last + 1))

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(f"no register named {name!r}") from None

    def __iter__(self) -> Iterator[Register]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def is_documented(self, table: Table, address: int) -> bool:
        """The manual lists ``address`` of ``table`` (a documented register or span covers it)."""
        return (table, address) in self._documented

    def polled(self, *polls: Poll) -> tuple[Register, ...]:
        """Registers read by the polling loop at the given rates."""
        return tuple(r for r in self._by_name.values() if r.poll in polls)
