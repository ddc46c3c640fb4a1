"""A simulated unit's raw register memory, laid out by the family's :class:`RegisterMap`.

The device model reads and sets engineering values by name; the Modbus server reads and writes
raw words by address. Writes from the wire are checked like a real instrument checks them
(address exists, parameter writable, value within limits) and then handed to the model's
``on_write`` hook, which may refuse them too. Refusals are Modbus exception codes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from drivers._modbus.registers import Register, RegisterMap, Table
from drivers.errors import ConfigurationError

ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3


class BankError(Exception):
    """A request the instrument refuses, with its Modbus exception code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"Modbus exception {code}")
        self.code = code


class RegisterBank:
    """Raw words per table; unmapped addresses read as 0 up to the table's last register."""

    def __init__(
        self, regmap: RegisterMap, *, on_write: Callable[[str, float], None] | None = None
    ) -> None:
        self.regmap = regmap
        self.on_write = on_write
        self._words: dict[Table, dict[int, int]] = {t: {} for t in Table}
        self._at: dict[tuple[Table, int], Register] = {}
        for reg in regmap:
            for offset in range(reg.words):
                self._at[(reg.table, reg.address + offset)] = reg
            self._store(reg, reg.encode(0))
        self._top = {t: max((a for (tt, a) in self._at if tt is t), default=-1) for t in Table}

    def _store(self, reg: Register, words: Sequence[int]) -> None:
        table = self._words[reg.table]
        for offset, word in enumerate(words):
            table[reg.address + offset] = word

    def get(self, name: str) -> float:
        reg = self.regmap[name]
        return reg.decode([self._words[reg.table][reg.address + i] for i in range(reg.words)])

    def set(self, name: str, value: float) -> None:
        """The instrument's own side: no writable or limit checks, clamps to the raw type."""
        reg = self.regmap[name]
        low, high = reg.codec.raw_range()
        raw = min(max(value / reg.resolution, low), high)
        self._store(reg, reg.codec.encode(raw if reg.codec.is_float else round(raw)))

    def read(self, table: Table, address: int, count: int) -> list[int]:
        if count < 1 or address < 0 or address + count - 1 > self._top[table]:
            raise BankError(ILLEGAL_ADDRESS)
        words = self._words[table]
        return [words.get(a, 0) for a in range(address, address + count)]

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        """A write from the wire: whole registers only, each checked, then the model's hook."""
        pending: list[tuple[Register, tuple[int, ...]]] = []
        pos = address
        while pos < address + len(values):
            reg = self._at.get((table, pos))
            if reg is None or reg.address != pos or pos + reg.words > address + len(values):
                raise BankError(ILLEGAL_ADDRESS)
            if not reg.writable:
                raise BankError(ILLEGAL_VALUE)
            words = tuple(values[pos - address : pos - address + reg.words])
            try:
                reg.to_raw(reg.decode(words))  # limits, as the instrument enforces them
            except ConfigurationError:
                raise BankError(ILLEGAL_VALUE) from None
            pending.append((reg, words))
            pos += reg.words
        for reg, words in pending:
            before = [self._words[table][reg.address + i] for i in range(reg.words)]
            self._store(reg, words)
            if self.on_write is not None:
                try:
                    self.on_write(reg.name, reg.decode(words))
                except BankError:
                    self._store(reg, before)
                    raise
