"""An in-memory :class:`~drivers._modbus.transport.Wire` for unit tests of the bus and drivers.

Raw words live in ``{table: {address: word}}`` dicts (bits as 0/1). Tests steer the wire's
misbehaviour directly: fail the next calls with a given error, pull the cable, refuse
connects, keep a unit silent (the bus's timeout fires), or make reads disagree with writes
so write verification can be exercised. Every attempted call is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drivers._modbus.registers import Register, Table
from drivers.errors import DeviceRejected, DriverError, LinkDown

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2


@dataclass(frozen=True, slots=True)
class Call:
    """One attempted transaction, recorded before any injected failure."""

    op: str  # "read" or "write"
    table: Table
    address: int
    count: int
    unit: int
    values: tuple[int, ...] = ()


class FakeWire:
    """Wire over in-memory tables; unmapped addresses are refused with exception code 2."""

    def __init__(self, tables: Mapping[Table, Mapping[int, int]] | None = None) -> None:
        self.tables: dict[Table, dict[int, int]] = {t: {} for t in Table}
        for table, words in (tables or {}).items():
            self.tables[table].update(words)
        self.connected = False
        self.refuse_connect = False  # connect() raises LinkDown while set
        self.connect_attempts = 0
        self.connects = 0
        self.calls: list[Call] = []
        self.silent_units: set[int] = set()  # requests to these units never get a reply
        self.ignore_writes = False  # acknowledge writes but keep the old values
        self.read_overrides: dict[Table, dict[int, int]] = {t: {} for t in Table}
        self.latency_s = 0.0  # per call; 0 still yields to the loop once
        self.in_flight = 0
        self.max_in_flight = 0
        self._failures: list[DriverError] = []

    @property
    def transactions(self) -> int:
        """Attempted read and write calls, failed ones included."""
        return len(self.calls)

    def fail(self, error: DriverError, times: int = 1) -> None:
        """Make the next ``times`` read/write calls raise ``error``."""
        self._failures.extend([error] * times)

    def disconnect(self) -> None:
        """Pull the cable: calls raise LinkDown until the bus connects again."""
        self.connected = False

    def set_value(self, reg: Register, value: float) -> None:
        """Store ``value`` (engineering units) in the register's words."""
        for offset, word in enumerate(reg.encode(value)):
            self.tables[reg.table][reg.address + offset] = word

    def writes(self) -> list[Call]:
        """Attempted writes, in order."""
        return [c for c in self.calls if c.op == "write"]

    def reads(self) -> list[Call]:
        """Attempted reads, in order."""
        return [c for c in self.calls if c.op == "read"]

    async def connect(self) -> None:
        self.connect_attempts += 1
        await asyncio.sleep(0)
        if self.refuse_connect:
            raise LinkDown("fake wire: connection refused")
        self.connected = True
        self.connects += 1

    async def close(self) -> None:
        self.connected = False

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self.calls.append(Call("read", table, address, count, unit))
        await self._exchange(unit)
        words = self.tables[table]
        if any(a not in words for a in range(address, address + count)):
            raise DeviceRejected(f"illegal data address {address}+{count}", code=ILLEGAL_ADDRESS)
        overrides = self.read_overrides[table]
        return [overrides.get(a, words[a]) for a in range(address, address + count)]

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        self.calls.append(Call("write", table, address, len(values), unit, tuple(values)))
        await self._exchange(unit)
        if table not in (Table.HOLDING, Table.COIL):
            raise DeviceRejected(f"{table.value} table is read-only", code=ILLEGAL_FUNCTION)
        words = self.tables[table]
        if any(a not in words for a in range(address, address + len(values))):
            raise DeviceRejected(f"illegal data address {address}", code=ILLEGAL_ADDRESS)
        if not self.ignore_writes:
            for offset, value in enumerate(values):
                words[address + offset] = value

    async def _exchange(self, unit: int) -> None:
        if not self.connected:
            raise LinkDown("fake wire: not connected")
        if self._failures:
            raise self._failures.pop(0)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if unit in self.silent_units:
                await asyncio.Event().wait()  # the bus's timeout cancels this
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        if not self.connected:  # the cable was pulled while the request was out
            raise LinkDown("fake wire: connection lost")
