"""Modbus clients nobody here wrote, pointed at a served simulator as third-party software would.

minimalmodbus talks RTU over the simulator's pty and umodbus talks Modbus TCP to its loopback
port; both sit behind :class:`ModbusClient` so a test runs the same manual-derived checks through
either. Both libraries block, so every request runs in a worker thread while the simulator
serves (and is stepped) on the test's event loop. The clock is a :class:`VirtualClock` that only
moves when a test calls :func:`advance`, so what a client reads can be compared exactly with the
simulator's own state.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar, cast

import minimalmodbus  # type: ignore[import-untyped]
import serial
import umodbus.client.tcp as umodbus_tcp  # type: ignore[import-untyped]
from umodbus.exceptions import ModbusError  # type: ignore[import-untyped]

from drivers._sim.server import Endpoint, ModbusSim
from drivers.clock import Clock, VirtualClock

Transport = Literal["rtu", "tcp"]
T = TypeVar("T")

UNIT = 1
# Wall seconds a client waits for a reply. A reply on loopback takes milliseconds; this is wide
# for two shared CI cores, and it is also how long a check of silence (or of an exception reply
# shorter than the answer minimalmodbus expects, which it reads until the timeout) takes.
REPLY_TIMEOUT_S = 1.0

# minimalmodbus reports an exception response as text only (_check_response_slaveerrorcode).
_MINIMALMODBUS_CODES = {
    "illegal function": 1,
    "illegal data address": 2,
    "illegal data value": 3,
    "device failure": 4,
}


class Refused(Exception):
    """The device answered with a Modbus exception response."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exception response {code:02d}")
        self.code = code


class NoReply(Exception):
    """The device stayed silent."""


class BadReply(Exception):
    """A reply came back that the client rejects (for FC05/FC06: not an echo of the request)."""


class ModbusClient(Protocol):
    """What the tests ask of a Modbus master (function codes of Modbus V1.1b3 §6)."""

    async def read_words(self, address: int, count: int, *, fc: int = 3) -> list[int]: ...

    async def write_word(self, address: int, value: int) -> None: ...  # FC06

    async def write_words(self, address: int, values: Sequence[int]) -> None: ...  # FC16

    async def read_bits(self, address: int, count: int, *, fc: int) -> list[int]: ...  # FC01/02

    async def write_bit(self, address: int, on: bool) -> None: ...  # FC05

    async def write_bits(self, address: int, values: Sequence[int]) -> None: ...  # FC15


class ServableSim(ModbusSim, Protocol):
    """A simulator with :class:`~drivers._sim.server.ServedModbusSim`'s ``serving``."""

    def serving(
        self,
        *,
        clock: Clock,
        unit: int = 1,
        tcp_port: int | None = None,
        pty_link: Path | None = None,
    ) -> contextlib.AbstractAsyncContextManager[Endpoint]: ...


class MinimalModbusRtu:
    """minimalmodbus 2.1 over a pty; failures are Refused, NoReply or BadReply."""

    def __init__(self, path: Path) -> None:
        port = serial.Serial(str(path), baudrate=115200, timeout=REPLY_TIMEOUT_S)
        self.instrument = minimalmodbus.Instrument(port, UNIT)

    def close(self) -> None:
        self.instrument.serial.close()

    async def _call(self, request: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(request)
        except minimalmodbus.NoResponseError as err:
            raise NoReply(str(err)) from err
        except minimalmodbus.SlaveReportedException as err:
            text = str(err).lower()
            codes = [code for words, code in _MINIMALMODBUS_CODES.items() if words in text]
            raise Refused(codes[0] if codes else -1) from err
        except minimalmodbus.InvalidResponseError as err:
            raise BadReply(str(err)) from err

    async def read_words(self, address: int, count: int, *, fc: int = 3) -> list[int]:
        inst = self.instrument
        words = await self._call(lambda: inst.read_registers(address, count, functioncode=fc))
        return [int(w) for w in words]

    async def write_word(self, address: int, value: int) -> None:
        inst = self.instrument  # minimalmodbus checks that the reply echoes the request
        await self._call(lambda: inst.write_register(address, value, functioncode=6))

    async def write_words(self, address: int, values: Sequence[int]) -> None:
        inst = self.instrument
        await self._call(lambda: inst.write_registers(address, list(values)))

    async def read_bits(self, address: int, count: int, *, fc: int) -> list[int]:
        inst = self.instrument
        bits = await self._call(lambda: inst.read_bits(address, count, functioncode=fc))
        return [int(b) for b in bits]

    async def write_bit(self, address: int, on: bool) -> None:
        inst = self.instrument
        await self._call(lambda: inst.write_bit(address, int(on), functioncode=5))

    async def write_bits(self, address: int, values: Sequence[int]) -> None:
        inst = self.instrument
        await self._call(lambda: inst.write_bits(address, list(values)))

    async def raw(self, fc: int, payload: bytes) -> bytes:
        """Any function code, framed (address, CRC) and checked by minimalmodbus itself."""
        inst = self.instrument
        reply = await self._call(lambda: inst._perform_command(fc, payload))
        return bytes(reply)


class UmodbusTcp:
    """umodbus 1.0 over a loopback socket; failures are Refused or BadReply."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S * 4)

    def close(self) -> None:
        self._sock.close()

    async def _send(self, adu: bytes) -> object:
        try:
            return await asyncio.to_thread(umodbus_tcp.send_message, adu, self._sock)
        except ModbusError as err:
            raise Refused(int(err.error_code)) from err

    async def _write_echoed(self, adu: bytes, value: int) -> None:
        echoed = await self._send(adu)
        if echoed != value:  # Modbus V1.1b3 §6.5/§6.6: the normal response echoes the request
            raise BadReply(f"wrote {value:#06x}, the reply echoed {echoed!r}")

    async def read_words(self, address: int, count: int, *, fc: int = 3) -> list[int]:
        read = {3: umodbus_tcp.read_holding_registers, 4: umodbus_tcp.read_input_registers}[fc]
        return await self._ints(read(UNIT, address, count))

    async def write_word(self, address: int, value: int) -> None:
        await self._write_echoed(umodbus_tcp.write_single_register(UNIT, address, value), value)

    async def write_words(self, address: int, values: Sequence[int]) -> None:
        await self._send(umodbus_tcp.write_multiple_registers(UNIT, address, list(values)))

    async def read_bits(self, address: int, count: int, *, fc: int) -> list[int]:
        read = {1: umodbus_tcp.read_coils, 2: umodbus_tcp.read_discrete_inputs}[fc]
        return await self._ints(read(UNIT, address, count))

    async def write_bit(self, address: int, on: bool) -> None:
        await self._write_echoed(umodbus_tcp.write_single_coil(UNIT, address, int(on)), int(on))

    async def write_bits(self, address: int, values: Sequence[int]) -> None:
        await self._send(umodbus_tcp.write_multiple_coils(UNIT, address, list(values)))

    async def _ints(self, adu: bytes) -> list[int]:
        values = await self._send(adu)
        if not (isinstance(values, list) and all(isinstance(v, int) for v in values)):
            raise BadReply(f"umodbus decoded {values!r}")
        return cast(list[int], values)


S = TypeVar("S", bound=ServableSim)


@dataclass
class Served(Generic[S]):
    """A simulator served on a loopback port or a pty, frozen in time, and a client on it."""

    clock: VirtualClock
    client: ModbusClient
    sim: S
    endpoint: Endpoint

    def advance(self, seconds: float) -> None:
        """Move simulated time on and step the simulator to it now."""
        self.clock.advance(seconds)
        self.sim.step_to(self.clock.now())


@contextlib.asynccontextmanager
async def served(sim: S, transport: Transport, tmp: Path) -> AsyncIterator[Served[S]]:
    """Serve ``sim`` as ``labctl sim`` does (127.0.0.1 port 0, or RTU on a pty) with a client."""
    clock = VirtualClock()
    link = tmp / "ttySIM" if transport == "rtu" else None
    serving = sim.serving(clock=clock, tcp_port=None if link else 0, pty_link=link)
    async with serving as endpoint:
        client: MinimalModbusRtu | UmodbusTcp
        if endpoint.path is not None:
            client = MinimalModbusRtu(endpoint.path)
        else:
            assert endpoint.port is not None
            client = UmodbusTcp(endpoint.port)
        try:
            yield Served(clock, client, sim, endpoint)
        finally:
            client.close()


def signed(word: int) -> int:
    """A 16-bit two's-complement word as a signed integer."""
    return word - 0x10000 if word & 0x8000 else word
