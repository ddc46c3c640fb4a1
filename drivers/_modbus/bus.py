"""One Modbus line (RS-485) or TCP device: one task owns the wire and serializes requests.

:meth:`ModbusBus.run` serves queued requests one at a time, each transaction under a wall-clock
timeout; it reconnects with exponential backoff (clock time, jittered) and re-reads every unit's
identity after each connect. The link is dropped when the wire says so (LinkDown, or
``wire.connected`` false after an error) or after ``LOST_AFTER`` consecutive communication
failures on the bus, so one silent unit does not take the line down for answering neighbours.
Exception replies (DeviceRejected) prove the link works and never drop it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drivers._modbus.alarm import Alarm
from drivers._modbus.plan import Block, plan_reads
from drivers._modbus.registers import Poll, Register, RegisterMap, Table
from drivers._modbus.transport import Wire
from drivers.clock import Clock
from drivers.errors import (
    CommunicationError,
    ConfigurationError,
    DeviceRejected,
    DeviceTimeout,
    DriverError,
    FramingError,
    IdentityMismatch,
    LinkDown,
    WriteNotVerified,
)

log = logging.getLogger(__name__)
LOST_AFTER = 3  # consecutive communication failures
T = TypeVar("T")
_Op = Callable[[], Awaitable[T]]


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


@dataclass(slots=True)
class _Request(Generic[T]):
    device: ModbusDevice
    op: _Op[T]
    future: asyncio.Future[T]
    generation: int  # the connection it was accepted on


class ModbusDevice:
    """One unit on a bus, described by its family's register map (see :meth:`ModbusBus.device`)."""

    def __init__(
        self, bus: ModbusBus, name: str, unit: int, regmap: RegisterMap, identity: Sequence[str]
    ) -> None:
        self.name, self.unit, self.regmap = name, unit, regmap
        self.max_block, self.max_fill = 125, 8
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
                await self._bus._up.wait()
        except TimeoutError:
            raise LinkDown(f"{self.name}: {self._bus.name} down for {timeout_s} s") from None
        if self._mismatch is not None:
            raise IdentityMismatch(self._mismatch)

    async def read(self, names: Iterable[str] | None = None) -> Sample:
        """Read ``names`` (default: every FAST register) in the fewest transactions."""
        blocks = self.plan(names)

        async def op() -> Sample:
            values = await self._read_blocks(blocks)
            return Sample(at=self._bus.clock.now(), values=values)

        return await self._bus._submit(self, op)

    def _encoded(self, name: str, value: float) -> tuple[Register, list[int]]:
        reg = self.regmap[name]
        if not reg.writable:
            raise ConfigurationError(f"{self.name}: {name} is read-only")
        return reg, list(reg.encode(value))

    async def _write_once(self, reg: Register, words: Sequence[int]) -> None:
        """In the bus task: one write transaction."""
        bus = self._bus
        await bus._transact(self, bus._wire.write(reg.table, reg.address, words, self.unit))

    async def command(self, name: str, value: float) -> None:
        """Write once (never retried) with no read-back, for write-only command registers.

        The caller verifies the command's effect (e.g. by the status bits it changes).
        """
        reg, words = self._encoded(name, value)

        async def op() -> None:
            await self._write_once(reg, words)

        await self._bus._submit(self, op)

    async def write(self, name: str, value: float) -> None:
        """Write once (never retried), then read back; WriteNotVerified if off by > step/2."""
        reg, words = self._encoded(name, value)
        written = reg.decode(words)

        async def op() -> float:
            await self._write_once(reg, words)
            return reg.decode(await self._bus._read(self, reg.table, reg.address, reg.words))

        read_back = await self._bus._submit(self, op)
        if abs(read_back - written) > reg.resolution / 2:
            raise WriteNotVerified(
                f"{self.name}: wrote {written:g} to {name}, read back {read_back:g}",
                register=name,
                written=written,
                read_back=read_back,
            )

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
            values.update(b.decode(await self._bus._read(self, b.table, b.address, b.count)))
        return values

    def _record(self, ok: bool) -> None:
        self._failures = 0 if ok else self._failures + 1
        self._log_health()

    def _log_health(self) -> None:
        health = self.health
        if health is not self._logged:
            level = logging.INFO if health is Health.OK else logging.WARNING
            log.log(level, "%s: communication %s -> %s", self.name, self._logged, health)
            self._logged = health


class ModbusBus:
    """The one task that owns a wire (a serial line or a TCP connection) and its units."""

    def __init__(
        self,
        wire: Wire,
        *,
        name: str,
        clock: Clock,
        timeout_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        queue_size: int = 64,
    ) -> None:
        self.name, self.clock, self._wire, self._timeout_s = name, clock, wire, timeout_s
        self._alarm = Alarm(timeout_s)
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._queue: asyncio.Queue[_Request[Any]] = asyncio.Queue(queue_size)
        self._up = asyncio.Event()  # connected and identities checked: requests accepted
        self._generation = 0
        self._streak = 0  # consecutive communication failures on the bus
        self._drop = False
        self._refused = 0  # failed connect attempts in a row
        self._current: _Request[Any] | None = None
        self.devices: list[ModbusDevice] = []
        self.transactions = 0
        self.errors = 0

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def device(
        self,
        *,
        name: str,
        unit: int,
        regmap: RegisterMap,
        identity: Sequence[str] = (),
        max_block_registers: int = 125,
        max_fill_registers: int = 8,
    ) -> ModbusDevice:
        """Add a unit to this bus; ``identity`` registers are re-checked after every connect."""
        dev = ModbusDevice(self, name, unit, regmap, identity)
        dev.max_block, dev.max_fill = max_block_registers, max_fill_registers
        dev.plan(identity)  # bad names and limits fail here, not on the wire
        self.devices.append(dev)
        return dev

    async def run(self) -> None:
        """Connect, serve requests one at a time, reconnect with backoff; until cancelled."""
        delay = self._backoff[0]
        self._alarm = Alarm(self._timeout_s)  # its timer belongs to this run's event loop
        try:
            while True:
                if await self._connect():
                    delay = self._backoff[0]
                    await self._serve()
                await self._wire.close()
                await self.clock.sleep(delay * random.uniform(0.75, 1.0))  # jitter stays <= max
                delay = min(2 * delay, self._backoff[1])
        finally:
            await self.close("bus stopped")

    async def close(self, why: str = "bus closed") -> None:
        """Fail pending requests with LinkDown and close the wire."""
        self._set_down(why)
        await self._wire.close()

    async def _connect(self) -> bool:
        try:
            async with asyncio.timeout(3 * self._timeout_s):
                await self._wire.connect()
        except (DriverError, TimeoutError) as err:  # warn once per outage, not per attempt
            level = logging.DEBUG if self._refused else logging.WARNING
            log.log(level, "%s: cannot connect (%r); retrying with backoff", self.name, err)
            self._refused += 1
            return False
        self._generation += 1
        self._streak, self._drop, self._refused = 0, False, 0
        for dev in self.devices:
            dev._identity_checked = not dev._identity_names
            if not dev._identity_checked:
                try:
                    await self._execute(dev, _nothing)
                except DriverError as err:  # the unit fails its requests until it answers
                    log.debug("%s: %s identity unchecked: %r", self.name, dev.name, err)
            if self._drop:
                return False
        self._up.set()
        log.info("%s: link up", self.name)
        for dev in self.devices:
            dev._log_health()
        return True

    async def _serve(self) -> None:
        while not self._drop:
            self._current = None
            req = self._current = await self._queue.get()
            if req.future.done():  # the caller gave up
                continue
            if req.generation != self._generation:
                req.future.set_exception(LinkDown(f"{self.name}: link was down"))
                continue
            try:
                result = await self._execute(req.device, req.op)
            except Exception as err:  # handed to the caller, never kills the bus
                if not isinstance(err, DriverError):
                    log.exception("%s: unexpected error", self.name)
                    self._drop = True
                if not req.future.done():
                    req.future.set_exception(err)
            else:
                if not req.future.done():
                    req.future.set_result(result)
        self._current = None
        self._set_down("link down; reconnecting with backoff")

    async def _execute(self, device: ModbusDevice, op: _Op[T]) -> T:
        """Run ``op`` for ``device`` (identity first if unchecked), keeping the health books."""
        try:
            if not device._identity_checked:
                await device._check_identity()
            if device._mismatch is not None:
                raise IdentityMismatch(device._mismatch)
            result = await op()
        except CommunicationError as err:
            self._streak += 1
            device._record(ok=False)
            lost = isinstance(err, LinkDown) or not self._wire.connected
            self._drop = self._drop or lost or self._streak >= LOST_AFTER
            raise
        except DriverError:  # the device answered (exception reply, read-back, identity)
            self._streak = 0
            device._record(ok=True)
            raise
        self._streak = 0
        device._record(ok=True)
        return result

    async def _submit(self, device: ModbusDevice, op: _Op[T]) -> T:
        """Queue ``op`` for the bus task; fails fast while the link is down."""
        if not self.connected:
            raise LinkDown(f"{self.name}: link down")
        if device._mismatch is not None:
            raise IdentityMismatch(device._mismatch)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(device, op, future, self._generation))
        return await future

    async def _read(self, dev: ModbusDevice, table: Table, address: int, count: int) -> list[int]:
        words = await self._transact(dev, self._wire.read(table, address, count, dev.unit))
        if len(words) != count:
            self.errors += 1
            raise FramingError(f"{dev.name}: asked for {count} at {address}, got {len(words)}")
        return words

    async def _transact(self, dev: ModbusDevice, call: Awaitable[T]) -> T:
        """One wire transaction under the real-time timeout."""
        self.transactions += 1
        try:
            return await self._alarm.run(call)
        except TimeoutError:
            self.errors += 1
            raise DeviceTimeout(f"{dev.name}: no reply within {self._timeout_s} s") from None
        except DriverError:
            self.errors += 1
            raise

    def _set_down(self, why: str) -> None:
        was_up = self._up.is_set()
        self._up.clear()
        pending = [self._current] if self._current is not None else []
        self._current = None
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for req in pending:
            if not req.future.done():
                req.future.set_exception(LinkDown(f"{self.name}: {why}"))
        if was_up:
            log.warning("%s: %s", self.name, why)
        for dev in self.devices:
            dev._log_health()


async def _nothing() -> None:
    """A request that only makes the bus check the unit's identity."""
