"""Modbus replies as our code decodes them: codecs, read blocks, each family's readings, the bus
with a wire that answers anything, and the real pymodbus client fed arbitrary reply bytes.

Property: a reply becomes a typed value, or a :mod:`drivers.errors` error naming the problem;
never IndexError/KeyError/ValueError/struct.error, never a hang, never a dead bus task.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from drivers._modbus import codecs
from drivers._modbus.bus import ModbusBus
from drivers._modbus.device import Sample
from drivers._modbus.plan import Block, plan_reads
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.registers import Poll, RegisterMap, Table
from drivers._modbus.transport import TcpEndpoint
from drivers.clock import VirtualClock
from drivers.delta_vfd import driver as delta
from drivers.delta_vfd.registers import MAP as DELTA_MAP
from drivers.errors import DeviceRejected, DriverError, FramingError
from drivers.eurotherm3200 import driver as eurotherm
from drivers.eurotherm3200.registers import MAP as EUROTHERM_MAP
from drivers.iomodule import driver as iomodule
from drivers.iomodule.registers import MAP as IO_MAP
from drivers.omron_e5cc import driver as omron
from drivers.omron_e5cc.registers import MAP as OMRON_MAP
from tests.fuzz.support import fuzz, says

CODECS = [getattr(codecs, n) for n in dir(codecs) if isinstance(getattr(codecs, n), codecs.Codec)]
WORD = st.integers(0, 0xFFFF)
ANY_INT = st.integers(-(2**40), 2**40)

Decoder = Callable[[float, Mapping[str, float]], object]
FAMILIES: dict[str, tuple[RegisterMap, Decoder]] = {
    "eurotherm3200": (EUROTHERM_MAP, eurotherm.decode_reading),
    "omron_e5cc": (OMRON_MAP, omron.decode_reading),
    "iomodule": (IO_MAP, iomodule.decode_inputs),
    "delta_vfd": (DELTA_MAP, delta.decode_reading),
}


def fast_blocks(regmap: RegisterMap) -> tuple[Block, ...]:
    """The blocks a device polls every tick (the bus's defaults)."""
    return plan_reads(regmap.polled(Poll.FAST), max_block=125, max_fill=8)


def block_words(block: Block) -> st.SearchStrategy[list[int]]:
    """What the wire can hand back for ``block``: words, or 0/1 for bit tables."""
    value = st.integers(0, 1) if block.table.is_bits else WORD
    return st.lists(value, min_size=block.count, max_size=block.count)


@fuzz(400)
@given(codec=st.sampled_from(CODECS), words=st.lists(ANY_INT, max_size=4))
def test_a_codec_decodes_any_words_or_says_why_not(codec: codecs.Codec, words: list[int]) -> None:
    try:
        value = codec.decode(words)
    except FramingError as err:
        says(err, codec.kind.name)
        assert len(words) != codec.words or any(not 0 <= w <= 0xFFFF for w in words)
    else:
        assert isinstance(value, float | int)
        assert codec.words == len(words)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@fuzz(150)
@given(data=st.data())
def test_every_polled_reply_is_a_reading_or_a_driver_error(
    family: str, data: st.DataObject
) -> None:
    regmap, decode = FAMILIES[family]
    values: dict[str, float] = {}
    for block in fast_blocks(regmap):
        values.update(block.decode(data.draw(block_words(block), label=f"block@{block.address}")))
    assert set(values) == {r.name for r in regmap.polled(Poll.FAST)}
    try:
        decode(12.5, values)
    except DriverError as err:
        says(err)


class AnyReplyWire:
    """A :class:`~drivers._modbus.transport.Wire` answering each read with the next reply given.

    A reply is a word list of any length and value, or a Modbus exception code.
    """

    def __init__(self, replies: Sequence[list[int] | int]) -> None:
        self._replies = list(replies)
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        await asyncio.sleep(0)
        reply = self._replies.pop(0) if self._replies else []
        if isinstance(reply, int):
            raise DeviceRejected(f"exception {reply}", code=reply)
        return reply

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        raise AssertionError("a read never writes")


REPLY = st.one_of(st.lists(ANY_INT, max_size=130), st.integers(0, 255))


async def _read_through_bus(regmap: RegisterMap, replies: list[list[int] | int]) -> Any:
    bus = ModbusBus(AnyReplyWire(replies), name="fuzz", clock=VirtualClock(), timeout_s=5.0)
    device = bus.device(name="dev", unit=1, regmap=regmap)
    task = asyncio.create_task(bus.run())
    try:
        await device.wait_connected(5.0)
        try:
            return await device.read()
        except DriverError as err:
            return err
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@fuzz(120)
@given(family=st.sampled_from(sorted(FAMILIES)), replies=st.lists(REPLY, max_size=6))
def test_the_bus_turns_any_reply_into_a_sample_or_a_driver_error(
    family: str, replies: list[list[int] | int]
) -> None:
    regmap = FAMILIES[family][0]
    outcome = asyncio.run(_read_through_bus(regmap, replies))
    if isinstance(outcome, DriverError):
        says(outcome)
        return
    assert isinstance(outcome, Sample)
    assert set(outcome.values) == {r.name for r in regmap.polled(Poll.FAST)}
    assert all(isinstance(v, float) for v in outcome.values.values())


# ---- the real pymodbus client (our wire adapter) against a server that answers anything ----

_MBAP = struct.Struct(">HHHB")


def pdus(count: int) -> st.SearchStrategy[bytes]:
    """Reply PDUs to a read of ``count`` holding registers: right, exception, wrong, garbage."""
    size = 2 * count
    return st.one_of(
        st.binary(min_size=size, max_size=size).map(lambda b: bytes([3, size]) + b),
        st.integers(0, 255).map(lambda code: bytes([0x83, code])),
        st.tuples(
            st.sampled_from([3, 4, 0x83, 0x90]), st.integers(0, 255), st.binary(max_size=260)
        ).map(lambda t: bytes(t[:2]) + t[2]),
        st.binary(max_size=300),
    )


@st.composite
def tcp_replies(draw: st.DrawFn, count: int) -> Callable[[bytes], bytes]:
    """A reply maker: an MBAP frame (maybe off in id, unit or length) around a PDU, or garbage."""
    pdu = draw(pdus(count))
    garbage = draw(st.none() | st.binary(min_size=1, max_size=300))
    tid_delta = draw(st.sampled_from([0, 0, 0, 1]))
    unit = draw(st.sampled_from([1, 1, 0, 2]))
    length_delta = draw(st.sampled_from([0, 0, 0, -1, 1, 500]))

    def reply(request: bytes) -> bytes:
        if garbage is not None:
            return garbage
        tid = (_MBAP.unpack_from(request)[0] + tid_delta) & 0xFFFF
        length = max(0, min(0xFFFF, len(pdu) + 1 + length_delta))
        return _MBAP.pack(tid, 0, length, unit) + pdu

    return reply


async def _pymodbus_read(reply: Callable[[bytes], bytes], count: int) -> list[int] | DriverError:
    """One read by a fresh wire; the server answers ``reply(request)`` and then hangs up."""
    handlers: list[asyncio.Task[Any]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
            request = await reader.readexactly(12)
            writer.write(reply(request))
            await writer.drain()
            async with asyncio.timeout(0.05):  # hang up soon: garbage must not wait for timeout
                await reader.read()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await answer(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.5)
    try:
        await wire.connect()
        try:
            return await wire.read(Table.HOLDING, 0, count, 1)
        except DriverError as err:
            return err
    finally:
        await wire.close()
        await asyncio.gather(*handlers)
        server.close()
        await server.wait_closed()


@pytest.mark.slow
@pytest.mark.timeout(120)
@fuzz(40, deadline=None)
@given(count=st.integers(1, 125), data=st.data())
def test_pymodbus_wire_maps_any_reply_bytes_to_words_or_a_driver_error(
    count: int, data: st.DataObject
) -> None:
    reply = data.draw(tcp_replies(count), label="reply")
    started = time.monotonic()
    outcome = asyncio.run(_pymodbus_read(reply, count))
    assert time.monotonic() - started < 5.0  # the wire's own timeout bounds it
    if isinstance(outcome, DriverError):
        says(outcome)
    else:
        assert len(outcome) == count and all(0 <= w <= 0xFFFF for w in outcome)
    event(type(outcome).__name__)
