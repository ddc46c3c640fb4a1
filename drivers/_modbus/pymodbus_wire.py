"""The one module that imports pymodbus: a :class:`Wire` client and a server for simulators.

pymodbus is pinned to an exact version (its API changes between minor releases); every
pymodbus error is mapped here to :mod:`drivers.errors`, and nothing of pymodbus leaks out.
The client never retries and never reconnects by itself: the bus decides both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.registers import Table
from drivers._modbus.transport import Endpoint, TcpEndpoint
from drivers.errors import (
    CommunicationError,
    DeviceRejected,
    DeviceTimeout,
    FramingError,
    LinkDown,
)

log = logging.getLogger(__name__)

_READ = {
    Table.COIL: "read_coils",
    Table.DISCRETE: "read_discrete_inputs",
    Table.HOLDING: "read_holding_registers",
    Table.INPUT: "read_input_registers",
}
_TABLE_OF_FC = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    4: Table.INPUT,
}


class PymodbusWire:
    """Modbus TCP or RTU client; a fresh pymodbus client per connection."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 1.0) -> None:
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def _new_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        ep = self._endpoint
        if isinstance(ep, TcpEndpoint):
            return AsyncModbusTcpClient(
                ep.host, port=ep.port, timeout=self._timeout_s, retries=0, reconnect_delay=0
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
        )

    async def connect(self) -> None:
        await self.close()
        client = self._new_client()
        try:
            ok = await client.connect()
        except (ModbusException, OSError) as err:
            client.close()
            raise LinkDown(f"cannot connect to {self._endpoint}: {err}") from err
        if not ok:
            client.close()
            raise LinkDown(f"cannot connect to {self._endpoint}")
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        client = self._require()
        call = getattr(client, _READ[table])
        response = await self._call(call(address, count=count, device_id=unit))
        if table.is_bits:
            return [1 if bit else 0 for bit in list(response.bits)[:count]]
        words = list(response.registers)
        if len(words) != count:
            raise FramingError(f"asked for {count} registers at {address}, got {len(words)}")
        return [int(w) for w in words]

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        client = self._require()
        if table is Table.HOLDING:
            if len(values) == 1:
                await self._call(client.write_register(address, values[0], device_id=unit))
            else:
                await self._call(client.write_registers(address, list(values), device_id=unit))
        elif table is Table.COIL:
            bits = [bool(v) for v in values]
            if len(bits) == 1:
                await self._call(client.write_coil(address, bits[0], device_id=unit))
            else:
                await self._call(client.write_coils(address, bits, device_id=unit))
        else:
            raise DeviceRejected(f"{table.value} table is read-only", code=1)

    def _require(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is None or not self._client.connected:
            raise LinkDown(f"not connected to {self._endpoint}")
        return self._client

    async def _call(self, request: Any) -> Any:
        """Await one pymodbus request; map every failure to a DriverError."""
        try:
            response = await request
        except ModbusIOException as err:
            raise DeviceTimeout(f"no reply from {self._endpoint}: {err}") from err
        except ConnectionException as err:
            raise LinkDown(f"link to {self._endpoint} lost: {err}") from err
        except ModbusException as err:
            raise FramingError(f"bad reply from {self._endpoint}: {err}") from err
        except TimeoutError as err:
            raise DeviceTimeout(f"no reply from {self._endpoint}") from err
        except OSError as err:
            raise LinkDown(f"link to {self._endpoint} failed: {err}") from err
        if response.isError():
            code = int(getattr(response, "exception_code", 0) or 0)
            raise DeviceRejected(f"device refused the request (exception {code})", code=code)
        return response


class _BankContext(ModbusServerContext):
    """Routes the server's datastore calls to register banks (one per unit id)."""

    def __init__(self, banks: Mapping[int, RegisterBank]) -> None:  # no super(): own store
        self._banks = banks
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return list(self._banks)

    async def async_getValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        bank = self._banks.get(device_id)
        if bank is None:
            return ExcCodes.GATEWAY_NO_RESPONSE
        try:
            words = bank.read(_TABLE_OF_FC[func_code], address, count)
        except (BankError, KeyError) as err:
            return ExcCodes(getattr(err, "code", ExcCodes.ILLEGAL_FUNCTION))
        return [bool(w) for w in words] if func_code in (1, 2, 5, 15) else words

    async def async_setValues(  # noqa: N802 - pymodbus's name
        self,
        device_id: int,
        func_code: int,
        address: int,
        values: Sequence[int] | Sequence[bool],
    ) -> ExcCodes | None:
        bank = self._banks.get(device_id)
        if bank is None:
            return ExcCodes.GATEWAY_NO_RESPONSE
        try:
            bank.write(_TABLE_OF_FC[func_code], address, [int(v) for v in values])
        except (BankError, KeyError) as err:
            return ExcCodes(getattr(err, "code", ExcCodes.ILLEGAL_FUNCTION))
        return None


@contextlib.asynccontextmanager
async def serve_units(
    banks: Mapping[int, RegisterBank],
    *,
    tcp: tuple[str, int] | None = None,
    serial_port: str | None = None,
    baudrate: int = 19200,
) -> AsyncIterator[int | None]:
    """A real pymodbus server for simulated units; yields the bound TCP port (None for RTU)."""
    context = _BankContext(banks)
    server: ModbusTcpServer | ModbusSerialServer
    if tcp is not None:
        server = ModbusTcpServer(context, address=tcp)
    elif serial_port is not None:
        server = ModbusSerialServer(
            context, port=serial_port, baudrate=baudrate, framer=FramerType.RTU
        )
    else:
        raise ValueError("serve_units needs tcp= or serial_port=")
    await server.serve_forever(background=True)
    try:
        port = None
        if tcp is not None:
            listener = cast(asyncio.Server, server.transport)
            port = int(listener.sockets[0].getsockname()[1])
        yield port
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


__all__ = ["CommunicationError", "PymodbusWire", "serve_units"]
