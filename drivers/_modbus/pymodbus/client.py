"""The pymodbus client: a :class:`Wire` (the simulators' server is ``pymodbus.server``).

This package (``drivers._modbus.pymodbus``) is the only one that imports pymodbus. pymodbus
is pinned to an exact version (its API changes between minor releases); every pymodbus error is
mapped here to :mod:`drivers.errors`, and nothing of pymodbus leaks out.
The client never retries and never reconnects by itself: the bus decides both.

pymodbus 3.16 reports "no reply in time", "reply for another unit/transaction" and (after
three silent requests) "closing the connection" all as ``ModbusIOException``, and it drops
RTU frames with a bad CRC without a word. The wire therefore watches the link itself (the
``trace_connect`` and ``trace_packet`` hooks) to tell a dead link (:class:`LinkDown`), a
garbled or mismatched reply (bytes came back, no valid answer: :class:`FramingError`) and
silence (:class:`DeviceTimeout`) apart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from drivers._modbus.registers import Table
from drivers._modbus.transport import Endpoint, TcpEndpoint
from drivers.errors import ConfigurationError, DeviceRejected, DeviceTimeout, FramingError, LinkDown

log = logging.getLogger(__name__)

Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class PymodbusWire:
    """Modbus TCP or RTU client; a fresh pymodbus client per connection, retries=0."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 1.0) -> None:
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._client: Client | None = None
        self._link: _Link | None = None  # the current connection's state
        self._rx_bytes = 0  # bytes received since the current request was sent

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def _new_client(self, link: _Link) -> Client:
        def on_connect(up: bool) -> None:
            if not up:
                link.cut()

        def on_packet(sending: bool, data: bytes) -> bytes:
            if not sending:
                self._rx_bytes += len(data)
            return data

        ep = self._endpoint
        if isinstance(ep, TcpEndpoint):
            return AsyncModbusTcpClient(
                ep.host,
                port=ep.port,
                timeout=self._timeout_s,
                retries=0,
                reconnect_delay=0,
                trace_packet=on_packet,
                trace_connect=on_connect,
            )
        return AsyncModbusSerialClient(
            ep.port,
            framer=FramerType.RTU,
            baudrate=ep.baudrate,
            parity=ep.parity,
            stopbits=ep.stopbits,
            bytesize=ep.bytesize,
            timeout=self._timeout_s,
            retries=0,
            reconnect_delay=0,
            trace_packet=on_packet,
            trace_connect=on_connect,
        )

    async def connect(self) -> None:
        await self.close()
        link = _Link()
        client = link.client = self._new_client(link)
        # pymodbus connects through asyncio.wait_for, which on Python 3.11 loses a cancellation
        # that arrives as the connect fails (the bus then never stops, and SIGTERM hangs): the
        # attempt runs as its own task and this one waits with asyncio.wait, which never does.
        attempt = asyncio.ensure_future(client.connect())
        try:
            await asyncio.wait({attempt})
        except asyncio.CancelledError:
            attempt.cancel()
            client.close()
            raise
        try:
            ok = attempt.result()
        except (ModbusException, OSError, ValueError) as err:
            client.close()
            raise LinkDown(f"cannot connect to {self._endpoint}: {err}") from err
        if not ok or not client.connected:
            client.close()
            raise LinkDown(f"cannot connect to {self._endpoint}")
        client.set_max_no_responses(1_000_000)  # silence is the bus's call, not a reason to hang up
        self._client, self._link = client, link

    async def close(self) -> None:
        client, link = self._client, self._link
        self._client = self._link = None
        if link is not None:
            link.cut()  # a request still waiting ends with LinkDown now, not at its timeout
        if client is not None:
            client.close()

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        client, link = self._require()
        if table is Table.COIL:
            request = partial(client.read_coils, address, count=count, device_id=unit)
        elif table is Table.DISCRETE:
            request = partial(client.read_discrete_inputs, address, count=count, device_id=unit)
        elif table is Table.HOLDING:
            request = partial(client.read_holding_registers, address, count=count, device_id=unit)
        else:
            request = partial(client.read_input_registers, address, count=count, device_id=unit)
        response = await self._call(client, link, request)
        if table.is_bits:
            bits = list(response.bits)
            if len(bits) < count:
                raise FramingError(f"asked for {count} bits at {address}, got {len(bits)}")
            return [1 if bit else 0 for bit in bits[:count]]
        words = [int(w) for w in response.registers]
        if len(words) != count:
            raise FramingError(f"asked for {count} registers at {address}, got {len(words)}")
        return words

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        client, link = self._require()
        if not values:
            raise ConfigurationError("nothing to write")
        if table is Table.HOLDING:
            words = list(values)
            if any(not 0 <= w <= 0xFFFF for w in words):
                raise ConfigurationError(f"register values must be 16-bit words: {words}")
            if len(words) == 1:
                request = partial(client.write_register, address, words[0], device_id=unit)
            else:
                request = partial(client.write_registers, address, words, device_id=unit)
        elif table is Table.COIL:
            bits = [bool(v) for v in values]
            if len(bits) == 1:
                request = partial(client.write_coil, address, bits[0], device_id=unit)
            else:
                request = partial(client.write_coils, address, bits, device_id=unit)
        else:
            raise ConfigurationError(f"the {table.value} table is read-only")
        await self._call(client, link, request)

    def _require(self) -> tuple[Client, _Link]:
        client, link = self._client, self._link
        if client is None or link is None or link.down or not client.connected:
            raise LinkDown(f"not connected to {self._endpoint}")
        return client, link

    async def _call(
        self, client: Client, link: _Link, request: Callable[[], Awaitable[ModbusPDU]]
    ) -> ModbusPDU:
        """Run one pymodbus request; map every failure to a DriverError."""
        self._rx_bytes = 0
        link.busy = True
        try:
            response = await request()
        except ConnectionException as err:
            raise LinkDown(f"link to {self._endpoint} lost: {err}") from err
        except (ModbusException, TimeoutError) as err:  # ModbusIOException: see module doc
            if link.down or not client.connected:
                raise LinkDown(f"link to {self._endpoint} lost: {err}") from err
            if self._rx_bytes:
                raise FramingError(f"garbled reply from {self._endpoint}: {err}") from err
            raise DeviceTimeout(f"no reply from {self._endpoint} in {self._timeout_s} s") from err
        except (ValueError, OverflowError) as err:  # request arguments pymodbus cannot encode
            raise ConfigurationError(f"request not encodable: {err}") from err
        except OSError as err:
            raise LinkDown(f"link to {self._endpoint} failed: {err}") from err
        except Exception as err:  # a pymodbus bug must not escape: a fresh client may do
            log.exception("unexpected pymodbus failure on %s", self._endpoint)
            raise LinkDown(f"client failure on {self._endpoint}: {err!r}") from err
        finally:
            link.busy = False
        if response.isError():
            code = int(response.exception_code)
            raise DeviceRejected(f"device refused the request (exception {code})", code=code)
        return response


class _Link:
    """One connection: down once pymodbus reports it lost or the wire closes it.

    A request in flight waits on the client's reply future (pymodbus 3.16 keeps it in
    ``ctx.response_future``); :meth:`cut` fails that future with ConnectionException, so the
    request ends with LinkDown at once rather than at its timeout, with no watcher task.
    """

    __slots__ = ("busy", "client", "down")

    def __init__(self) -> None:
        self.client: Client | None = None
        self.down = False
        self.busy = False  # a request is waiting for its reply

    def cut(self) -> None:
        self.down = True
        if self.busy and self.client is not None:
            reply = self.client.ctx.response_future
            if not reply.done():
                reply.set_exception(ConnectionException("link lost"))
