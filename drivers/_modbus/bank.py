"""A simulated unit's raw register memory, laid out by the family's :class:`RegisterMap`.

The device model reads and sets engineering values by name; the Modbus server reads and writes
raw words by address. Writes from the wire are checked like a real instrument checks them
(address exists, parameter writable, value within limits) and then handed to the model's
``on_write`` hook, which may refuse them too. Refusals are Modbus exception codes.

A read touching an address the manual does not list is refused with :data:`ILLEGAL_ADDRESS`,
as the strictest real unit refuses it, so a read plan that strays off the manual fails in our
tests too. Addresses the manual lists but the model does not hold (the map's documented spans)
read as 0. A write is refused the same way where no register starts, unless the family's
manual says the unit discards such words inside a multi-word write (``discard_unconfigured``).

The Modbus server asks the bank which function codes the unit implements
(:attr:`RegisterBank.function_codes`) and whether it ignores the others on RTU; a bank whose
unit answers function 07 (read exception status) overrides
:meth:`RegisterBank.exception_status`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from drivers._modbus.registers import Register, RegisterMap, Table
from drivers.errors import ConfigurationError

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3

WriteHook = Callable[[str, float], None]

# The function codes that serve each table (Modbus Application Protocol V1.1b3 §6).
TABLE_FUNCTION_CODES = {
    Table.COIL: frozenset({1, 5, 15}),
    Table.DISCRETE: frozenset({2}),
    Table.HOLDING: frozenset({3, 6, 16}),
    Table.INPUT: frozenset({4}),
}


class BankError(Exception):
    """A request the instrument refuses, with its Modbus exception code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"Modbus exception {code}")
        self.code = code


class RegisterBank:
    """Raw 16-bit words (HOLDING, INPUT) and 0/1 bits (COIL, DISCRETE) by address."""

    # On RTU a function code the unit does not implement gets exception 01 (Modbus Application
    # Protocol V1.1b3 §7); a family whose manual says the unit stays silent sets this.
    silent_on_unsupported = False

    def __init__(
        self,
        regmap: RegisterMap,
        *,
        on_write: WriteHook | None = None,
        discard_unconfigured: bool = False,
    ) -> None:
        self.regmap = regmap
        self.on_write = on_write  # set by the device model; may raise BankError(3)
        self._discard = discard_unconfigured
        self._words: dict[Table, dict[int, int]] = {t: {} for t in Table}
        self._at: dict[tuple[Table, int], Register] = {}
        for reg in regmap:
            for offset in range(reg.words):
                self._at[(reg.table, reg.address + offset)] = reg
            self._store(reg, reg.encode(0))

    @property
    def function_codes(self) -> frozenset[int]:
        """The function codes this unit implements: those of the tables its map uses."""
        tables = {reg.table for reg in self.regmap}
        return frozenset().union(*(TABLE_FUNCTION_CODES[t] for t in tables))

    def exception_status(self) -> int:
        """Function 07's status byte; BankError(1) for a unit without function 07."""
        raise BankError(ILLEGAL_FUNCTION)

    def _store(self, reg: Register, words: Sequence[int]) -> None:
        table = self._words[reg.table]
        for offset, word in enumerate(words):
            table[reg.address + offset] = word

    def _load(self, reg: Register) -> list[int]:
        table = self._words[reg.table]
        return [table[reg.address + i] for i in range(reg.words)]

    def get(self, name: str) -> float:
        """Engineering value of register ``name``."""
        reg = self.regmap[name]
        return reg.decode(self._load(reg))

    def set(self, name: str, value: float) -> None:
        """The instrument's own side: no writable or limit checks, clamps to the raw type."""
        reg = self.regmap[name]
        if reg.table.is_bits:
            self._store(reg, (1 if value else 0,))
            return
        low, high = reg.codec.raw_range()
        raw = min(max(value / reg.resolution, low), high)
        self._store(reg, reg.codec.encode(raw if reg.codec.is_float else round(raw)))

    def read(self, table: Table, address: int, count: int) -> list[int]:
        """Raw words (bits as 0/1) from the wire's side; BankError(2) off the manual."""
        words, addresses = self._words[table], range(address, address + count)
        if count < 1 or any(
            a not in words and not self.regmap.is_documented(table, a) for a in addresses
        ):
            raise BankError(ILLEGAL_ADDRESS)
        return [words.get(a, 0) for a in addresses]

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        """A write from the wire: whole registers only, each checked, then the model's hook.

        Every register is checked before any is stored. With ``discard_unconfigured``, words of
        a multi-word write where no register is are dropped without a word (a write that
        reaches no register at all is still refused). The hook then sees them in address
        order; if it refuses one, that register keeps its old words and the refusal is raised
        (registers before it stay written, as on an instrument that applies them in turn).
        """
        if table not in (Table.HOLDING, Table.COIL):
            raise BankError(ILLEGAL_FUNCTION)
        end = address + len(values)
        pending: list[tuple[Register, tuple[int, ...]]] = []
        pos = address
        while pos < end:
            reg = self._at.get((table, pos))
            if reg is None and self._discard and len(values) > 1:
                pos += 1
                continue
            if reg is None or reg.address != pos or reg.end > end:
                raise BankError(ILLEGAL_ADDRESS)
            words = tuple(values[pos - address : reg.end - address])
            if not reg.writable or any(not 0 <= w <= 0xFFFF for w in words):
                raise BankError(ILLEGAL_VALUE)
            if table.is_bits and words[0] not in (0, 1):
                raise BankError(ILLEGAL_VALUE)
            try:
                reg.to_raw(reg.decode(words))  # limits, as the instrument enforces them
            except (ConfigurationError, ValueError, OverflowError):
                raise BankError(ILLEGAL_VALUE) from None
            pending.append((reg, words))
            pos = reg.end
        if not pending:
            raise BankError(ILLEGAL_ADDRESS if values else ILLEGAL_VALUE)
        for reg, words in pending:
            before = self._load(reg)
            self._store(reg, words)
            if self.on_write is not None:
                try:
                    self.on_write(reg.name, reg.decode(words))
                except BankError:
                    self._store(reg, before)
                    raise
