"""One Modbus line (RS-485) or TCP device: one task owns the wire and serializes requests.

:meth:`ModbusBus.run` serves queued requests one at a time, each transaction under a wall-clock
timeout; it reconnects with exponential backoff (clock time, jittered) and re-reads every unit's
identity after each connect. The link is dropped when the wire says so (LinkDown, or
``wire.connected`` false after an error) or after ``LOST_AFTER`` consecutive communication
failures on the bus, so one silent unit does not take the line down for answering neighbours.
Exception replies (DeviceRejected) prove the link works and never drop it.

The units themselves are :class:`~drivers._modbus.device.ModbusDevice`; the bus offers them the
:class:`~drivers._modbus.device.Transactions` API and keeps their books through theirs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drivers._modbus.alarm import Alarm
from drivers._modbus.device import LOST_AFTER, ModbusDevice
from drivers._modbus.registers import RegisterMap, Table
from drivers._modbus.transport import Wire
from drivers.clock import Clock
from drivers.errors import (
    CommunicationError,
    DeviceTimeout,
    DriverError,
    FramingError,
    LinkDown,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_Op = Callable[[], Awaitable[T]]


@dataclass(slots=True)
class _Request(Generic[T]):
    device: ModbusDevice
    op: _Op[T]
    future: asyncio.Future[T]
    generation: int  # the connection it was accepted on


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
            if dev.on_connect():
                try:
                    await self._execute(dev, _nothing)
                except DriverError as err:  # the unit fails its requests until it answers
                    log.debug("%s: %s identity unchecked: %r", self.name, dev.name, err)
            if self._drop:
                return False
        self._up.set()
        log.info("%s: link up", self.name)
        for dev in self.devices:
            dev.log_health()
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
            await device.ensure_identity()
            result = await op()
        except CommunicationError as err:
            self._streak += 1
            device.record(ok=False)
            lost = isinstance(err, LinkDown) or not self._wire.connected
            self._drop = self._drop or lost or self._streak >= LOST_AFTER
            raise
        except DriverError:  # the device answered (exception reply, read-back, identity)
            self._streak = 0
            device.record(ok=True)
            raise
        self._streak = 0
        device.record(ok=True)
        return result

    # The devices' side of the API (drivers._modbus.device.Transactions).

    async def until_up(self) -> None:
        """Return once the link is up and every unit's identity has been checked."""
        await self._up.wait()

    async def submit(self, device: ModbusDevice, op: _Op[T]) -> T:
        """Queue ``op`` for the bus task; fails fast while the link is down."""
        if not self.connected:
            raise LinkDown(f"{self.name}: link down")
        device.refuse_if_replaced()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(device, op, future, self._generation))
        return await future

    async def read_words(
        self, dev: ModbusDevice, table: Table, address: int, count: int
    ) -> list[int]:
        """In the bus task: one read transaction; FramingError unless ``count`` words came."""
        words = await self._transact(dev, self._wire.read(table, address, count, dev.unit))
        if len(words) != count:
            self.errors += 1
            raise FramingError(f"{dev.name}: asked for {count} at {address}, got {len(words)}")
        return words

    async def write_words(
        self, dev: ModbusDevice, table: Table, address: int, words: Sequence[int]
    ) -> None:
        """In the bus task: one write transaction, never retried."""
        await self._transact(dev, self._wire.write(table, address, words, dev.unit))

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
            dev.log_health()


async def _nothing() -> None:
    """A request that only makes the bus check the unit's identity."""
