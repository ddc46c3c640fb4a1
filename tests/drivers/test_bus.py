"""The bus task against an in-memory wire: serialization, coalescing, verify, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from drivers._modbus.bus import Health, ModbusBus, ModbusDevice
from drivers._modbus.codecs import INT16, UINT16
from drivers._modbus.registers import Poll, Register, RegisterMap
from drivers.clock import VirtualClock
from drivers.errors import (
    ConfigurationError,
    DeviceRejected,
    DeviceTimeout,
    IdentityMismatch,
    LinkDown,
    WriteNotVerified,
)
from tests.drivers.fake_wire import FakeWire

MAP = RegisterMap(
    [
        Register(name="pv", address=1, codec=INT16, decimals=1, poll=Poll.FAST),
        Register(name="sp", address=2, codec=INT16, decimals=1, writable=True, poll=Poll.FAST),
        Register(name="out", address=4, codec=INT16, decimals=1, poll=Poll.FAST),
        Register(name="status", address=40, codec=UINT16, poll=Poll.FAST),
        Register(name="ident", address=122, codec=UINT16),
    ]
)
WORDS = {1: 7320, 2: 7330, 3: 0, 4: 455, 40: 0, 122: 0x3216}
WORDS.update(dict.fromkeys(range(5, 40), 0))


@pytest.fixture
async def rig() -> AsyncIterator[tuple[FakeWire, ModbusBus, ModbusDevice]]:
    wire = FakeWire(WORDS)
    bus = ModbusBus(
        wire,
        name="line",
        clock=VirtualClock(),
        timeout_s=0.2,
        backoff_initial_s=0.001,
        backoff_max_s=0.004,
    )
    dev = bus.device(name="tc", unit=1, regmap=MAP, identity=("ident",), max_fill_registers=40)
    task = asyncio.create_task(bus.run())
    await dev.wait_connected(1.0)
    yield wire, bus, dev
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_fast_poll_is_coalesced(rig: tuple[FakeWire, ModbusBus, ModbusDevice]) -> None:
    wire, bus, dev = rig
    wire.reads.clear()
    sample = await dev.read()
    assert sample.values == {"pv": 732.0, "sp": 733.0, "out": 45.5, "status": 0.0}
    assert wire.reads == [(1, 40)]  # one transaction instead of four


async def test_requests_are_serialized(rig: tuple[FakeWire, ModbusBus, ModbusDevice]) -> None:
    wire, bus, dev = rig
    results = await asyncio.gather(*(dev.read(("pv",)) for _ in range(20)))
    assert all(r.values["pv"] == 732.0 for r in results)
    assert wire.reads[-20:] == [(1, 1)] * 20


async def test_write_is_verified_by_read_back(
    rig: tuple[FakeWire, ModbusBus, ModbusDevice],
) -> None:
    wire, _, dev = rig
    await dev.write("sp", 500.0)
    assert wire.writes[-1] == (2, (5000,))
    wire.read_back_offset = 10
    with pytest.raises(WriteNotVerified, match="read back 401"):
        await dev.write("sp", 400.0)
    with pytest.raises(ConfigurationError, match="read-only"):
        await dev.write("pv", 1.0)


async def test_failed_write_is_not_retried(rig: tuple[FakeWire, ModbusBus, ModbusDevice]) -> None:
    wire, _, dev = rig
    before = len(wire.writes)
    wire.fail_next = [DeviceTimeout("no reply")]
    with pytest.raises(DeviceTimeout):
        await dev.write("sp", 300.0)
    assert len(wire.writes) == before


async def test_exception_reply_keeps_link_and_health(
    rig: tuple[FakeWire, ModbusBus, ModbusDevice],
) -> None:
    wire, bus, dev = rig
    wire.fail_next = [DeviceRejected("illegal", code=2)]
    with pytest.raises(DeviceRejected):
        await dev.read()
    assert bus.link_up
    assert dev.health is Health.OK


async def test_health_changes_logged_once_each(
    rig: tuple[FakeWire, ModbusBus, ModbusDevice],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wire, bus, dev = rig
    caplog.set_level(logging.INFO, logger="drivers._modbus.bus")
    caplog.clear()
    wire.fail_next = [DeviceTimeout("t1")]
    with pytest.raises(DeviceTimeout):
        await dev.read()
    assert dev.health is Health.DEGRADED
    wire.fail_next = [DeviceTimeout("t2")]
    with pytest.raises(DeviceTimeout):
        await dev.read()
    assert str(dev.health) == "degraded"
    wire.fail_next = [DeviceTimeout("t3")]
    with pytest.raises(DeviceTimeout):
        await dev.read()
    assert str(dev.health) == "lost"
    await dev.wait_connected(1.0)  # reconnected
    await dev.read()
    assert str(dev.health) == "ok"
    changes = [r.getMessage() for r in caplog.records if "communication" in r.getMessage()]
    assert changes == [
        "tc: communication ok -> degraded",
        "tc: communication degraded -> lost",
        "tc: communication lost -> ok",
    ]
    assert wire.connects == 2


async def test_link_down_fails_fast_and_reconnects(
    rig: tuple[FakeWire, ModbusBus, ModbusDevice],
) -> None:
    wire, bus, dev = rig
    wire.refuse_connect = True
    wire.fail_next = [LinkDown("cable")]
    with pytest.raises(LinkDown):
        await dev.read()
    with pytest.raises(LinkDown):
        await dev.read()  # fails fast, does not queue forever
    assert dev.health is Health.LOST
    wire.refuse_connect = False
    await dev.wait_connected(1.0)
    assert (await dev.read(("pv",))).values["pv"] == 732.0


async def test_identity_rechecked_after_reconnect(
    rig: tuple[FakeWire, ModbusBus, ModbusDevice],
) -> None:
    wire, bus, dev = rig
    wire.words[122] = 0x2408  # another instrument answers at this address
    wire.fail_next = [LinkDown("cable")]
    with pytest.raises(LinkDown):
        await dev.read()
    with pytest.raises(IdentityMismatch, match="refusing to drive it"):
        await dev.wait_connected(1.0)
    assert dev.health is Health.LOST
