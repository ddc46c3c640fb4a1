"""The simulated 3216's register memory with Eurotherm's Modbus conventions.

Facts from Eurotherm's *2000 Series Communications Handbook* HA026230 Issue 3, the protocol
reference the 3200 handbook (HA028651) builds on; applying them to a 3216 is an assumption
(``NOTES.md``):

* function codes 03/04 (read n words, both the same table), 06, 07 (fast status byte), 08
  (diagnostic loopback, sub-function 0) and 16; any other gets no reply;
* function 07 returns the fast status byte: b0-b3 alarms 1-4, b4 manual, b5 sensor break,
  b6 loop break, b7 heater fail (HA026230), which are the low byte of the 3200's StAt word
  (address 75; HA028651 Issue 7 §15.5 p.82: b4 auto/manual, b5 sensor break, b6 loop break,
  b7 CT low load);
* address 76 reads the bitwise inverse of StAt (75): HA028651 Issue 7 §15.5 p.82 lists it as
  "an inverted (bitwise) version of the preceding" parameter, read-only like StAt (a write is
  refused, or its word discarded inside an FC16 block, as at any address holding no register);
* an FC16 block over unconfigured words inside it writes the rest and silently discards those;
* the IEEE float region: parameter ``p`` at ``2 * p + 0x8000``, two registers per value, most
  significant word first, read with 03/04 and written with 16 only, from an even address;
  time parameters are 32-bit integer milliseconds, and integer (enumerated) parameters use
  the first word with the second padded with 0x8000.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers._modbus.bank import ILLEGAL_ADDRESS, ILLEGAL_VALUE, BankError, RegisterBank, WriteHook
from drivers._modbus.codecs import FLOAT32, INT32
from drivers._modbus.registers import Register, Table
from drivers.errors import ConfigurationError, FramingError
from drivers.eurotherm3200.registers import MAP

FLOAT_BASE = 0x8000
INTEGER_PAD = 0x8000
FUNCTION_CODES = frozenset({3, 4, 6, 7, 8, 16})
INVERTED_STATUS = 76  # HA028651 Issue 7 §15.5 p.82: StAt (75), bitwise inverted
_MS_PER_UNIT = {"min": 60_000.0}  # time parameters the table holds


def float_address(parameter: int) -> int:
    """The first of the two registers holding ``parameter`` in the IEEE float region."""
    return FLOAT_BASE + 2 * parameter


class EurothermBank(RegisterBank):
    """The 3216 table served the Eurotherm way: float region, FC07, lenient FC16 blocks."""

    silent_on_unsupported = True  # HA026230: no reply to an unsupported function code

    def __init__(self, *, on_write: WriteHook | None = None) -> None:
        super().__init__(MAP, on_write=on_write, discard_unconfigured=True)

    @property
    def function_codes(self) -> frozenset[int]:
        return FUNCTION_CODES

    def exception_status(self) -> int:
        """The fast status byte: the low byte of StAt."""
        return int(self.get("status")) & 0xFF

    def read(self, table: Table, address: int, count: int) -> list[int]:
        if table is Table.INPUT:  # 03 and 04 both read n words
            table = Table.HOLDING
        if table is Table.HOLDING and address >= FLOAT_BASE:
            words: list[int] = []
            for parameter in self._parameters(address, count):
                words += self._float_region_words(parameter)
            return words
        words = super().read(table, address, count)
        if table is Table.HOLDING and address <= INVERTED_STATUS < address + count:
            words[INVERTED_STATUS - address] = self._inverted_status()
        return words

    def _inverted_status(self) -> int:
        return ~int(self.get("status")) & 0xFFFF

    def _float_region_words(self, parameter: int) -> list[int]:
        """One parameter's two words in the IEEE region (an integer: first word, then pad)."""
        if parameter == INVERTED_STATUS:
            return [self._inverted_status(), INTEGER_PAD]
        reg = self._register(parameter)
        return _float_words(reg, self.get(reg.name)) if reg else [0, 0]

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        if table is not Table.HOLDING or address < FLOAT_BASE:
            super().write(table, address, values)
            return
        parameters = self._parameters(address, len(values))
        scaled: list[int] = []
        for i, parameter in enumerate(parameters):
            reg = self._register(parameter)
            scaled.append(_scaled_word(reg, values[2 * i : 2 * i + 2]) if reg else 0)
        super().write(Table.HOLDING, parameters[0], scaled)  # unconfigured words discarded

    def _parameters(self, address: int, count: int) -> range:
        """Parameter addresses of a float-region request: even start, whole values only."""
        if address % 2 or count < 2 or count % 2:
            raise BankError(ILLEGAL_ADDRESS)
        first = (address - FLOAT_BASE) // 2
        parameters = range(first, first + count // 2)
        if any(
            self._register(p) is None and not MAP.is_documented(Table.HOLDING, p)
            for p in parameters
        ):
            raise BankError(ILLEGAL_ADDRESS)
        return parameters

    @staticmethod
    def _register(parameter: int) -> Register | None:
        return next((r for r in MAP if r.table is Table.HOLDING and r.address == parameter), None)


def _float_words(reg: Register, value: float) -> list[int]:
    if reg.unit in _MS_PER_UNIT:
        return list(INT32.encode(round(value * _MS_PER_UNIT[reg.unit])))
    if reg.unit:
        return list(FLOAT32.encode(value))
    return [int(value) & 0xFFFF, INTEGER_PAD]


def _scaled_word(reg: Register, words: Sequence[int]) -> int:
    """Two float-region words -> the parameter's scaled-integer word (limits checked later)."""
    try:
        if reg.unit in _MS_PER_UNIT:
            value = INT32.decode(words) / _MS_PER_UNIT[reg.unit]
        elif reg.unit:
            value = FLOAT32.decode(words)
        else:
            value = words[0]
        return reg.encode(value)[0]
    except (ConfigurationError, FramingError, ValueError, OverflowError):
        raise BankError(ILLEGAL_VALUE) from None
