"""One Modbus line (RS-485) or TCP device: one task, requests serialized, health per unit.

:meth:`ModbusBus.run` is the only code that touches the wire. Devices queue requests; the task
executes them one at a time with a wall-clock timeout, reconnects with exponential backoff and
jitter when the link drops, and re-checks each unit's identity after every (re)connect before
serving it. Reads are coalesced by :func:`plan_reads`; writes are sent once, never retried, and
verified by reading the register back.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from drivers._modbus.plan import Block, plan_reads
from drivers._modbus.registers import Poll, RegisterMap
from drivers._modbus.transport import Wire
from drivers.clock import Clock
from drivers.errors import (
    CommunicationError,
    ConfigurationError,
    DriverError,
    IdentityMismatch,
    LinkDown,
    WriteNotVerified,
)

log = logging.getLogger(__name__)

LOST_AFTER = 3  # consecutive failures
T = TypeVar("T")


class Health(enum.StrEnum):
    """A unit's communication health."""

    OK = "ok"
    DEGRADED = "degraded"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Sample:
    """Register values (engineering units) from one consistent poll."""

    at: float  # clock time the last reply arrived
    values: Mapping[str, float]


class ModbusDevice:
    """One unit on a bus, described by its family's register map."""

    def __init__(
        self,
        bus: ModbusBus,
        *,
        name: str,
        unit: int,
        regmap: RegisterMap,
        identity: Sequence[str],
        max_block: int,
        max_fill: int,
    ) -> None:
        self.name, self.unit, self.regmap = name, unit, regmap
        self._bus = bus
        self._identity_names = tuple(identity)
        self._max_block, self._max_fill = max_block, max_fill
        self._plans: dict[tuple[str, ...], tuple[Block, ...]] = {}
        self._failures = 0
        self._identity: dict[str, float] | None = None
        self.identity_checked = False
        self.identity_error: IdentityMismatch | None = None
        self._logged = Health.LOST

    @property
    def health(self) -> Health:
        if self.identity_error is not None or not self._bus.link_up:
            return Health.LOST
        if self._failures == 0:
            return Health.OK
        return Health.DEGRADED if self._failures < LOST_AFTER else Health.LOST

    def plan(self, names: Iterable[str] | None = None) -> tuple[Block, ...]:
        key = tuple(names) if names is not None else ()
        if key not in self._plans:
            regs = [self.regmap[n] for n in key] if key else list(self.regmap.polled(Poll.FAST))
            self._plans[key] = plan_reads(regs, max_block=self._max_block, max_fill=self._max_fill)
        return self._plans[key]

    async def wait_connected(self, timeout_s: float) -> None:
        """Until the link is up and this unit's identity has been checked."""

        async def nothing(wire: Wire) -> None:
            """The bus task checks identity before running any request."""

        try:
            async with asyncio.timeout(timeout_s):
                while not self._bus.link_up:
                    await asyncio.sleep(0.01)
                await self._bus.submit(self, nothing)
        except TimeoutError:
            raise LinkDown(f"{self.name}: not reachable on {self._bus.name}") from None

    async def read(self, names: Iterable[str] | None = None) -> Sample:
        """Read ``names`` (default: every FAST register) in the fewest transactions."""
        blocks = self.plan(names)

        async def op(wire: Wire) -> dict[str, float]:
            values: dict[str, float] = {}
            for block in blocks:
                words = await wire.read(block.table, block.address, block.count, self.unit)
                self._bus.transactions += 1
                values.update(block.decode(words))
            return values

        values = await self._bus.submit(self, op)
        return Sample(at=self._bus.clock.now(), values=values)

    async def write(self, name: str, value: float) -> None:
        """Write once (never retried), then read back; raises WriteNotVerified on mismatch."""
        reg = self.regmap[name]
        if not reg.writable:
            raise ConfigurationError(f"{self.name}: {name} is read-only")
        words = reg.encode(value)
        intended = reg.decode(words)

        async def op(wire: Wire) -> float:
            await wire.write(reg.table, reg.address, words, self.unit)
            self._bus.transactions += 1
            back = await wire.read(reg.table, reg.address, reg.words, self.unit)
            self._bus.transactions += 1
            return reg.decode(back)

        read_back = await self._bus.submit(self, op)
        if abs(read_back - intended) > reg.resolution / 2:
            raise WriteNotVerified(
                f"{self.name}: wrote {intended:g} {reg.unit} to {name}, read back {read_back:g}",
                register=name,
                written=intended,
                read_back=read_back,
            )

    async def check_identity(self, wire: Wire) -> None:
        """Read the identity registers (inside the bus task) and compare with the first read."""
        if not self._identity_names:
            self.identity_checked = True
            return
        values: dict[str, float] = {}
        for block in self.plan(self._identity_names):
            values.update(
                block.decode(await wire.read(block.table, block.address, block.count, self.unit))
            )
        if self._identity is None:
            self._identity = values
        elif values != self._identity:
            self.identity_error = IdentityMismatch(
                f"{self.name}: unit {self.unit} on {self._bus.name} answers as {values}, "
                f"expected {self._identity}; refusing to drive it"
            )
        self.identity_checked = True

    def record(self, ok: bool) -> None:
        self._failures = 0 if ok else self._failures + 1
        self.log_health()

    def log_health(self) -> None:
        health = self.health
        if health is not self._logged:
            level = logging.INFO if health is Health.OK else logging.WARNING
            log.log(level, "%s: communication %s -> %s", self.name, self._logged, health)
            self._logged = health


_Op = Callable[[Wire], Awaitable[T]]


class ModbusBus:
    """The task that owns one wire (a serial line or a TCP connection)."""

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
        self.name, self.clock = name, clock
        self._wire = wire
        self._timeout_s = timeout_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._queue: asyncio.Queue[tuple[ModbusDevice, _Op[object], asyncio.Future[object]]] = (
            asyncio.Queue(queue_size)
        )
        self.devices: list[ModbusDevice] = []
        self.link_up = False
        self.transactions = 0
        self.errors = 0

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
        dev = ModbusDevice(
            self,
            name=name,
            unit=unit,
            regmap=regmap,
            identity=identity,
            max_block=max_block_registers,
            max_fill=max_fill_registers,
        )
        self.devices.append(dev)
        return dev

    async def submit(self, device: ModbusDevice, op: _Op[T]) -> T:
        """Queue ``op`` for the bus task; fails fast while the link is down."""
        if not self.link_up:
            raise LinkDown(f"{self.name}: link down")
        if device.identity_error is not None:
            raise device.identity_error
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((device, op, future))
        except asyncio.QueueFull:
            raise LinkDown(f"{self.name}: request queue full") from None
        return await future  # type: ignore[return-value]

    async def run(self) -> None:
        """Connect, serve requests one at a time, reconnect with backoff; forever."""
        delay = self._backoff[0]
        while True:
            if not self.link_up:
                await self._wire.close()
                try:
                    async with asyncio.timeout(self._timeout_s * 3):
                        await self._wire.connect()
                except (DriverError, TimeoutError) as err:
                    await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                    delay = min(delay * 2, self._backoff[1])
                    log.debug("%s: connect failed: %s", self.name, err)
                    continue
                self._link(True)
                delay = self._backoff[0]
            device, op, future = await self._queue.get()
            if future.cancelled():
                continue
            await self._execute(device, op, future)

    async def _execute(
        self, device: ModbusDevice, op: _Op[object], future: asyncio.Future[object]
    ) -> None:
        try:
            async with asyncio.timeout(self._timeout_s + 0.5):
                if not device.identity_checked:
                    await device.check_identity(self._wire)
                if device.identity_error is not None:
                    raise device.identity_error
                result = await op(self._wire)
        except TimeoutError:
            self._fail(device, future, LinkDown(f"{device.name}: no reply in time"), drop=True)
        except CommunicationError as err:
            self._fail(
                device, future, err, drop=isinstance(err, LinkDown) or device.health is Health.LOST
            )
        except DriverError as err:  # a Modbus exception reply: the link is fine
            device.record(ok=True)
            if not future.done():
                future.set_exception(err)
        else:
            device.record(ok=True)
            if not future.done():
                future.set_result(result)

    def _fail(
        self, device: ModbusDevice, future: asyncio.Future[object], err: DriverError, *, drop: bool
    ) -> None:
        self.errors += 1
        device.record(ok=False)
        if not future.done():
            future.set_exception(err)
        if drop or device.health is Health.LOST:
            self._link(False)

    def _link(self, up: bool) -> None:
        if up == self.link_up:
            return
        self.link_up = up
        if up:
            log.info("%s: link up", self.name)
            for dev in self.devices:
                dev.identity_checked = False
        else:
            log.warning("%s: link down; reconnecting with backoff", self.name)
            while not self._queue.empty():
                _, _, future = self._queue.get_nowait()
                if not future.done():
                    future.set_exception(LinkDown(f"{self.name}: link down"))
        for dev in self.devices:
            dev.log_health()

    async def close(self) -> None:
        self.link_up = False
        await self._wire.close()
