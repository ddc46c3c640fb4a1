"""The bus task against an in-memory wire: serialization, coalescing, verify, health, reconnect."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from drivers._modbus.bus import ModbusBus
from drivers._modbus.codecs import FLOAT32, INT16, UINT16
from drivers._modbus.device import Health, ModbusDevice
from drivers._modbus.fake_wire import FakeWire
from drivers._modbus.registers import DocumentedSpan, Poll, Register, RegisterMap, Table
from drivers.clock import VirtualClock
from drivers.errors import (
    ConfigurationError,
    DeviceRejected,
    DeviceTimeout,
    FramingError,
    IdentityMismatch,
    LinkDown,
    WriteNotVerified,
)

MAP = RegisterMap(
    [
        Register(name="pv", address=1, codec=INT16, decimals=1, poll=Poll.FAST),
        Register(
            name="sp",
            address=2,
            codec=INT16,
            decimals=1,
            writable=True,
            limits=(0.0, 1200.0),
            poll=Poll.FAST,
        ),
        Register(name="out", address=4, codec=INT16, decimals=1, poll=Poll.FAST),
        Register(name="status", address=40, codec=UINT16, poll=Poll.FAST),
        Register(name="gain", address=60, codec=FLOAT32, decimals=1, writable=True),
        Register(name="ident", address=122, codec=UINT16),
        Register(name="ghost", address=300, codec=UINT16),  # not on the fake device
        Register(name="enable", address=5, table=Table.COIL, writable=True),
    ],
    # the fake device's manual lists 0..123, so the poll may coalesce across the gaps
    documented=[DocumentedSpan(Table.HOLDING, 0, 123, "fake device: every address")],
)
LOGGER = "drivers._modbus"  # the bus and its devices log under it


def _tables() -> dict[Table, dict[int, int]]:
    holding = dict.fromkeys(range(0, 124), 0)
    holding.update({1: 7320, 2: 7330, 4: 455, 122: 0x3216})
    return {Table.HOLDING: holding, Table.COIL: {5: 0}}


@dataclass
class Rig:
    wire: FakeWire
    bus: ModbusBus
    dev: ModbusDevice
    clock: VirtualClock


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    wire = FakeWire(_tables())
    clock = VirtualClock()
    bus = ModbusBus(
        wire, name="line", clock=clock, timeout_s=0.1, backoff_initial_s=0.5, backoff_max_s=4.0
    )
    dev = bus.device(name="tc", unit=1, regmap=MAP, identity=("ident",), max_fill_registers=40)
    tasks = [asyncio.create_task(bus.run()), asyncio.create_task(clock.autojump())]
    await dev.wait_connected(1.0)
    yield Rig(wire, bus, dev, clock)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _health(dev: ModbusDevice) -> Health:
    return dev.health  # a call, so mypy does not narrow the property across awaits


def _changes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "communication" in r.getMessage()]


async def test_fast_poll_is_coalesced(rig: Rig) -> None:
    before = rig.bus.transactions
    rig.wire.calls.clear()
    sample = await rig.dev.read()
    assert sample.values == {"pv": 732.0, "sp": 733.0, "out": 45.5, "status": 0.0}
    assert [(c.address, c.count) for c in rig.wire.calls] == [(1, 40)]  # one instead of four
    assert rig.bus.transactions - before == 1


async def test_plan_is_cached_per_name_set(rig: Rig) -> None:
    assert rig.dev.plan(["pv", "sp"]) is rig.dev.plan(("sp", "pv"))
    assert rig.dev.plan() is rig.dev.plan(None)
    with pytest.raises(ConfigurationError, match="no register named"):
        await rig.dev.read(["nope"])


async def test_sample_time_is_clock_time_of_reply(rig: Rig) -> None:
    rig.clock.advance(42.0)
    sample = await rig.dev.read(["pv"])
    assert sample.at == rig.clock.now() == 42.0


async def test_requests_are_serialized(rig: Rig) -> None:
    rig.wire.latency_s = 0.001
    rig.wire.calls.clear()
    results = await asyncio.gather(*(rig.dev.read(("pv",)) for _ in range(20)))
    assert all(r.values["pv"] == 732.0 for r in results)
    assert len(rig.wire.calls) == 20
    assert rig.wire.max_in_flight == 1


async def test_write_is_verified_by_read_back(rig: Rig) -> None:
    await rig.dev.write("sp", 500.0)
    assert rig.wire.writes()[-1].values == (5000,)
    assert rig.wire.calls[-1].op == "read"  # the read-back
    await rig.dev.write("enable", 1.0)
    assert rig.wire.tables[Table.COIL][5] == 1

    rig.wire.ignore_writes = True
    with pytest.raises(WriteNotVerified, match="read back 500") as info:
        await rig.dev.write("sp", 400.0)
    assert (info.value.register, info.value.written, info.value.read_back) == ("sp", 400.0, 500.0)


async def test_read_back_tolerance_is_half_a_step(rig: Rig) -> None:
    reg = MAP["gain"]
    rig.wire.set_value(reg, 0.0)
    overrides = rig.wire.read_overrides[Table.HOLDING]
    overrides.update(zip((60, 61), reg.encode(2.54), strict=True))
    await rig.dev.write("gain", 2.5)  # 0.04 off, step 0.1: accepted
    overrides.update(zip((60, 61), reg.encode(2.56), strict=True))
    with pytest.raises(WriteNotVerified):
        await rig.dev.write("gain", 2.5)


async def test_write_refusals_never_reach_the_wire(rig: Rig) -> None:
    before = rig.wire.transactions
    with pytest.raises(ConfigurationError, match="read-only"):
        await rig.dev.write("pv", 1.0)
    with pytest.raises(ConfigurationError, match="outside"):
        await rig.dev.write("sp", 5000.0)
    assert rig.wire.transactions == before


async def test_failed_write_is_not_retried(rig: Rig) -> None:
    rig.wire.calls.clear()
    rig.wire.fail(DeviceTimeout("no reply"))
    with pytest.raises(DeviceTimeout):
        await rig.dev.write("sp", 300.0)
    assert [c.op for c in rig.wire.calls] == ["write"]  # one attempt, no read-back, no retry
    assert rig.dev.health is Health.DEGRADED


async def test_silent_unit_times_out_in_real_time(rig: Rig) -> None:
    bus = ModbusBus(rig.wire, name="fast", clock=rig.clock, timeout_s=0.005)
    dev = bus.device(name="mute", unit=7, regmap=MAP)
    task = asyncio.create_task(bus.run())
    await dev.wait_connected(1.0)
    rig.wire.silent_units.add(7)
    with pytest.raises(DeviceTimeout, match="no reply within"):
        await dev.write("sp", 300.0)
    assert [c.op for c in rig.wire.calls if c.unit == 7] == ["write"]
    assert bus.errors == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_exception_reply_keeps_link_and_health(rig: Rig) -> None:
    errors = rig.bus.errors
    with pytest.raises(DeviceRejected) as info:
        await rig.dev.read(["ghost"])
    assert info.value.code == 2
    rig.wire.fail(DeviceRejected("illegal", code=2))
    with pytest.raises(DeviceRejected):
        await rig.dev.read()
    assert rig.bus.connected
    assert rig.dev.health is Health.OK
    assert rig.bus.errors == errors + 2
    assert rig.wire.connects == 1


async def test_short_reply_is_a_framing_error(rig: Rig) -> None:
    async def short(table: Table, address: int, count: int, unit: int) -> list[int]:
        return [0] * (count - 1)

    rig.wire.read = short  # type: ignore[method-assign]
    with pytest.raises(FramingError):
        await rig.dev.read(["pv"])
    assert rig.dev.health is Health.DEGRADED


async def test_health_changes_logged_once_each(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    seen = []
    for n in range(3):
        rig.wire.fail(DeviceTimeout(f"t{n}"))
        with pytest.raises(DeviceTimeout):
            await rig.dev.read()
        seen.append(rig.dev.health)
    assert seen == [Health.DEGRADED, Health.DEGRADED, Health.LOST]
    await rig.dev.wait_connected(1.0)  # three in a row: the bus recycled the link
    assert rig.dev.health is Health.OK  # identity re-read on reconnect: it answers again
    await rig.dev.read()
    assert _changes(caplog) == [
        "tc: communication ok -> degraded",
        "tc: communication degraded -> lost",
        "tc: communication lost -> ok",
    ]
    assert rig.wire.connects == 2


async def test_link_down_fails_fast_and_reconnects(rig: Rig) -> None:
    rig.wire.refuse_connect = True
    rig.wire.disconnect()
    with pytest.raises(LinkDown):
        await rig.dev.read()
    assert rig.dev.health is Health.LOST
    calls = rig.wire.transactions
    with pytest.raises(LinkDown):
        await rig.dev.read()  # fails fast, does not queue until the link is back
    with pytest.raises(LinkDown, match="down for"):
        await rig.dev.wait_connected(0.01)
    assert rig.wire.transactions == calls
    rig.wire.refuse_connect = False
    await rig.dev.wait_connected(1.0)
    assert (await rig.dev.read(("pv",))).values["pv"] == 732.0
    assert _health(rig.dev) is Health.OK


async def test_queued_requests_fail_when_the_link_drops(rig: Rig) -> None:
    rig.wire.refuse_connect = True
    rig.wire.fail(LinkDown("cable"))
    results = await asyncio.gather(*(rig.dev.read() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, LinkDown) for r in results)
    assert rig.wire.transactions == 2  # identity at connect, then the one that hit the cut


async def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    clock = VirtualClock()
    attempts: list[float] = []

    class Recording(FakeWire):
        async def connect(self) -> None:
            attempts.append(clock.now())
            await super().connect()

    wire = Recording(_tables())
    wire.refuse_connect = True
    bus = ModbusBus(wire, name="l", clock=clock, backoff_initial_s=0.5, backoff_max_s=4.0)
    tasks = [asyncio.create_task(bus.run()), asyncio.create_task(clock.autojump())]
    while len(attempts) < 8:
        await asyncio.sleep(0)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, base in zip(gaps, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0], strict=True):
        assert 0.75 * base - 1e-9 <= gap <= base + 1e-9
    assert len({round(gap, 9) for gap in gaps[3:]}) > 1  # jittered even at the cap
    assert not bus.connected
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_identity_rechecked_after_reconnect(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rig.wire.tables[Table.HOLDING][122] = 0x2408  # another instrument answers at this address
    rig.wire.disconnect()
    with pytest.raises(LinkDown):
        await rig.dev.read()
    with pytest.raises(IdentityMismatch, match="refusing to drive it"):
        await rig.dev.wait_connected(1.0)
    assert rig.dev.health is Health.LOST
    with pytest.raises(IdentityMismatch):
        await rig.dev.read()
    with pytest.raises(IdentityMismatch):
        await rig.dev.write("sp", 100.0)
    assert not rig.wire.writes()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "answers as" in errors[0]
    # the original instrument is back; a neighbour's request notices the next cut
    rig.wire.tables[Table.HOLDING][122] = 0x3216
    rig.wire.disconnect()
    neighbour = rig.bus.device(name="other", unit=2, regmap=MAP)
    with pytest.raises(LinkDown):
        await neighbour.read()
    await rig.dev.wait_connected(1.0)
    assert (await rig.dev.read(["pv"])).values["pv"] == 732.0
    assert _health(rig.dev) is Health.OK


async def test_dead_neighbour_does_not_take_the_line_down(rig: Rig) -> None:
    other = rig.bus.device(name="mute", unit=9, regmap=MAP)
    rig.wire.silent_units.add(9)
    for _ in range(3):
        with pytest.raises(DeviceTimeout):
            await other.read(["pv"])
        await rig.dev.read(["pv"])
    assert other.health is Health.LOST
    assert rig.dev.health is Health.OK
    assert rig.bus.connected
    assert rig.wire.connects == 1


async def test_stopping_the_bus_fails_pending_requests() -> None:
    wire = FakeWire(_tables())
    bus = ModbusBus(wire, name="l", clock=VirtualClock(), timeout_s=5.0)
    dev = bus.device(name="tc", unit=1, regmap=MAP)
    task = asyncio.create_task(bus.run())
    await dev.wait_connected(1.0)
    wire.silent_units.add(1)
    pending = asyncio.create_task(dev.read())
    await asyncio.sleep(0.001)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(LinkDown, match="bus stopped"):
        await pending
    assert not wire.connected
