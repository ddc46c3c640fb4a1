"""One unit on a Modbus bus: its read plan, reads, verified writes, identity and health.

A :class:`ModbusDevice` never touches the wire. It hands each request to its bus as an
operation (:meth:`Transactions.submit`), and the operation runs in the bus task, where it moves
words with :meth:`Transactions.read_words` and :meth:`Transactions.write_words`. The bus in
turn keeps this unit's books through a small API of its own: :meth:`ModbusDevice.on_connect`,
:meth:`ModbusDevice.ensure_identity`, :meth:`ModbusDevice.refuse_if_replaced`,
:meth:`ModbusDevice.record` and :meth:`ModbusDevice.log_health`. Neither side reaches into the
other's private state.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from drivers._modbus.plan import Block, plan_reads
from drivers._modbus.registers import Poll, Register, RegisterMap, Table
from drivers.clock import Clock
from drivers.errors import (
    ConfigurationError,
    DeviceRejected,
    IdentityMismatch,
    LinkDown,
    WriteNotVerified,
)

log = logging.getLogger(__name__)
LOST_AFTER = 3  # consecutive communication failures
T = TypeVar("T")


class Health(enum.StrEnum):
    """A unit's communication health."""

    OK = "ok"
    DEGRADED = "degraded"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Sample:
    """Register values (engineering units) from one read request."""

    at: float  # clock.now() when the last reply arrived
    values: Mapping[str, float]


class Transactions(Protocol):
    """What a device needs from its bus (:class:`~drivers._modbus.bus.ModbusBus`)."""

    @property
    def name(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def connected(self) -> bool: ...

    async def until_up(self) -> None:
        """Return once the link is up and every unit's identity has been checked."""

    async def submit(self, device: ModbusDevice, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op`` in the bus task, one request at a time; LinkDown while the link is down."""

    async def read_words(
        self, device: ModbusDevice, table: Table, address: int, count: int
    ) -> list[int]:
        """In the bus task: one read transaction of exactly ``count`` words (or bits)."""

    async def write_words(
        self, device: ModbusDevice, table: Table, address: int, words: Sequence[int]
    ) -> None:
        """In the bus task: one write transaction, never retried."""


class ModbusDevice:
    """One unit on a bus, described by its family's register map (see ``ModbusBus.device``)."""

    def __init__(
        self, bus: Transactions, name: str, unit: int, regmap: RegisterMap, identity: Sequence[str]
    ) -> None:
        self.name, self.unit, self.regmap = name, unit, regmap
        self.max_block, self.max_fill = 125, 8  # ModbusBus.device sets the unit's limits
        self._bus = bus
        self._identity_names = frozenset(identity)
        self._plans: dict[frozenset[str] | None, tuple[Block, ...]] = {}
        self._failures = 0
        self._identity: dict[str, float] | None = None  # as first seen
        self._identity_checked = False  # on the current connection
        self._mismatch: str | None = None
        self._logged = Health.LOST

    @property
    def health(self) -> Health:
        if self._mismatch is not None or not self._bus.connected:
            return Health.LOST
        if self._failures == 0:
            return Health.OK
        return Health.DEGRADED if self._failures < LOST_AFTER else Health.LOST

    def plan(self, names: Iterable[str] | None = None) -> tuple[Block, ...]:
        """The read blocks for ``names`` (default: every FAST register), cached per name set.

        Blocks span only addresses the map marks documented (:func:`plan_reads`).
        """
        key = None if names is None else frozenset(names)
        if key not in self._plans:
            regs = self.regmap.polled(Poll.FAST) if key is None else [self.regmap[n] for n in key]
            self._plans[key] = plan_reads(
                regs,
                max_block=self.max_block,
                max_fill=self.max_fill,
                documented=self.regmap.is_documented,
            )
        return self._plans[key]

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait (wall seconds) for the bus; LinkDown on timeout, IdentityMismatch if replaced."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._bus.until_up()
        except TimeoutError:
            raise LinkDown(f"{self.name}: {self._bus.name} down for {timeout_s} s") from None
        self.refuse_if_replaced()

    async def read(self, names: Iterable[str] | None = None) -> Sample:
        """Read ``names`` (default: every FAST register) in the fewest transactions."""
        blocks = self.plan(names)

        async def op() -> Sample:
            values = await self._read_blocks(blocks)
            return Sample(at=self._bus.clock.now(), values=values)

        return await self._bus.submit(self, op)

    async def command(self, name: str, value: float) -> None:
        """Write once (never retried) with no read-back, for write-only command registers.

        The caller verifies the command's effect (e.g. by the status bits it changes).
        """
        reg, words = self._encoded(name, value)

        async def op() -> None:
            await self._bus.write_words(self, reg.table, reg.address, words)

        await self._bus.submit(self, op)

    async def write(self, name: str, value: float) -> None:
        """Write once (never retried), then read back; WriteNotVerified if off by > step/2."""
        reg, words = self._encoded(name, value)
        written = reg.decode(words)

        async def op() -> float:
            await self._bus.write_words(self, reg.table, reg.address, words)
            return reg.decode(await self._bus.read_words(self, reg.table, reg.address, reg.words))

        read_back = await self._bus.submit(self, op)
        if abs(read_back - written) > reg.resolution / 2:
            raise WriteNotVerified(
                f"{self.name}: wrote {written:g} to {name}, read back {read_back:g}",
                register=name,
                written=written,
                read_back=read_back,
            )

    # The bus's side of the API: called by ModbusBus only.

    def on_connect(self) -> bool:
        """A new connection: the identity is unchecked on it; True if there is one to check."""
        self._identity_checked = not self._identity_names
        return not self._identity_checked

    async def ensure_identity(self) -> None:
        """In the bus task: check the identity once per connection; IdentityMismatch if replaced."""
        if not self._identity_checked:
            await self._check_identity()
        self.refuse_if_replaced()

    def refuse_if_replaced(self) -> None:
        """IdentityMismatch if another instrument answered at this unit's address."""
        if self._mismatch is not None:
            raise IdentityMismatch(self._mismatch)

    def record(self, *, ok: bool) -> None:
        """Count one request's outcome (ok: the unit answered) toward :attr:`health`."""
        self._failures = 0 if ok else self._failures + 1
        self.log_health()

    def log_health(self) -> None:
        """Log :attr:`health` if it changed since it was last logged (the link went up or down)."""
        health = self.health
        if health is not self._logged:
            level = logging.INFO if health is Health.OK else logging.WARNING
            log.log(level, "%s: communication %s -> %s", self.name, self._logged, health)
            self._logged = health

    def _encoded(self, name: str, value: float) -> tuple[Register, list[int]]:
        reg = self.regmap[name]
        if not reg.writable:
            raise ConfigurationError(f"{self.name}: {name} is read-only")
        return reg, list(reg.encode(value))

    async def _check_identity(self) -> None:
        """In the bus task: compare the identity registers with their first reading."""
        values: dict[str, float] | None
        try:
            values = await self._read_blocks(self.plan(self._identity_names))
        except DeviceRejected:
            if self._identity is None:
                raise  # never seen: the map is wrong, not the device
            values = None
        if self._identity is None:
            self._identity = values
        elif values != self._identity:
            self._mismatch = (
                f"{self.name}: unit {self.unit} on {self._bus.name} answers as {values}, "
                f"expected {self._identity}; refusing to drive it"
            )
            log.error("%s", self._mismatch)
        else:
            self._mismatch = None
        self._identity_checked = True

    async def _read_blocks(self, blocks: Iterable[Block]) -> dict[str, float]:
        values: dict[str, float] = {}
        for b in blocks:
            values.update(b.decode(await self._bus.read_words(self, b.table, b.address, b.count)))
        return values
