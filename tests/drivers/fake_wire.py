"""An in-memory Wire for bus unit tests (the one I/O seam)."""

from __future__ import annotations

from collections.abc import Sequence

from drivers._modbus.registers import Table
from drivers.errors import DeviceRejected, DriverError, LinkDown


class FakeWire:
    def __init__(self, words: dict[int, int]) -> None:
        self.words = dict(words)
        self.connected = False
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, tuple[int, ...]]] = []
        self.fail_next: list[DriverError] = []
        self.refuse_connect = False
        self.read_back_offset = 0
        self.connects = 0

    async def connect(self) -> None:
        if self.refuse_connect:
            raise LinkDown("refused")
        self.connected = True
        self.connects += 1

    async def close(self) -> None:
        self.connected = False

    def _maybe_fail(self) -> None:
        if not self.connected:
            raise LinkDown("closed")
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self._maybe_fail()
        self.reads.append((address, count))
        if any(a not in self.words for a in range(address, address + count)):
            raise DeviceRejected("illegal address", code=2)
        return [
            (self.words[a] + self.read_back_offset) & 0xFFFF
            for a in range(address, address + count)
        ]

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        self._maybe_fail()
        self.writes.append((address, tuple(values)))
        for offset, value in enumerate(values):
            self.words[address + offset] = value
