"""The one I/O seam of the Modbus stack: a :class:`Wire` moves raw words to and from devices.

:class:`~drivers._modbus.bus.ModbusBus` and its units do everything above the wire (serialising
requests, coalescing reads, health, reconnect policy, write verification); the bus talks only to
a ``Wire``.
The real wire is pymodbus (``drivers._modbus.pymodbus.client``; only that package imports it);
unit tests plug a fake wire over :class:`~drivers._modbus.bank.RegisterBank` into the same bus.

Every method raises only :mod:`drivers.errors` exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from drivers._modbus.registers import Table


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpEndpoint:
    """Modbus TCP server address."""

    host: str
    port: int = 502


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialLine:
    """Modbus RTU serial line settings."""

    port: str
    baudrate: int = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: int = 8


Endpoint = TcpEndpoint | SerialLine


class Wire(Protocol):
    """Raw Modbus transactions on one TCP connection or serial line."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None:
        """Open the link; raises LinkDown if it cannot."""

    async def close(self) -> None: ...

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        """Read ``count`` words (or bits, as 0/1 ints) starting at ``address``."""

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        """Write words (HOLDING) or bits (COIL) starting at ``address``; never retried."""
