"""The pymodbus server the simulators are served by (the client side is ``pymodbus.client``).

Split from the client so each stays small; this package (``drivers._modbus.pymodbus``) is the
only one that imports pymodbus. The server answers as the simulated unit would, not as pymodbus
does by default:

* a write of one register or coil (FC06 / FC05) is answered with an echo of the request, as
  the Modbus specification requires (Modbus Application Protocol V1.1b3 §6.5, §6.6): pymodbus
  3.16 reads the register back after the write, so a unit whose register reads back something
  else (the E5CC's write-only operation-command register) would answer with that instead;
* a function code the unit does not implement (:attr:`RegisterBank.function_codes`) gets
  exception 01 (illegal function), or no reply at all on RTU from a unit whose manual says so
  (:attr:`RegisterBank.silent_on_unsupported`: Eurotherm's); pymodbus would otherwise answer
  diagnostics, device identification (naming itself "Pymodbus"), report-server-id and the
  rest for every unit;
* function 07 (read exception status) answers the unit's own status byte
  (:meth:`RegisterBank.exception_status`), not pymodbus's counters;
* on RTU a frame whose function code nobody implements is dropped whole, as a unit drops
  everything up to the next 3.5-character silence (Modbus over Serial Line V1.02 §2.5.1.1):
  pymodbus would keep its bytes and lose the next request while resynchronising on them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerRTU, FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.other_message import ReadExceptionStatusRequest, ReadExceptionStatusResponse

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.registers import Table

_BIT_FCS = frozenset({1, 2, 5, 15})
_ECHOED_FCS = frozenset({5, 6})  # single writes: the reply echoes the request
_TABLE_OF_FC = {1: Table.COIL, 5: Table.COIL, 15: Table.COIL, 2: Table.DISCRETE}
_TABLE_OF_FC |= {3: Table.HOLDING, 6: Table.HOLDING, 16: Table.HOLDING, 4: Table.INPUT}
DIAGNOSTICS = 8
RETURN_QUERY_DATA = 0  # the one diagnostics sub-function a unit with function 08 answers


class _BankContext(ModbusServerContext):
    """Routes the server's datastore calls straight to register banks (one per unit id).

    pymodbus 3.16 hands a ``ModbusServerContext`` with ``old_simulator`` set (and no
    ``simdevices``) to the request handlers unchanged, so addresses arrive exactly as on the
    wire: no +1 offset as in ``ModbusDeviceContext``. The base ``__init__`` is not called (it
    wants device contexts and logs a deprecation warning).
    """

    def __init__(self, banks: Mapping[int, RegisterBank], *, rtu: bool) -> None:
        self._banks = dict(banks)
        self._rtu = rtu
        self._echo: dict[tuple[int, int, int], list[int]] = {}
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return list(self._banks)

    def _bank(self, device_id: int) -> RegisterBank | ExcCodes:
        bank = self._banks.get(device_id)
        if bank is None:
            if self._rtu:  # RS-485: nobody at that address answers
                raise NoSuchIdException(f"no unit {device_id}")
            return ExcCodes.GATEWAY_NO_RESPONSE
        return bank

    def _access(
        self, device_id: int, func_code: int, address: int, count: int, values: list[int] | None
    ) -> list[int] | ExcCodes:
        """Read (``values`` None) or write one bank; refusals become exception codes."""
        bank, table = self._bank(device_id), _TABLE_OF_FC.get(func_code)
        if isinstance(bank, ExcCodes):
            return bank
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        try:
            if values is None:
                return bank.read(table, address, count)
            bank.write(table, address, values)
        except BankError as err:
            return ExcCodes(err.code)  # an unknown code: pymodbus answers DEVICE_FAILURE
        return []

    async def async_getValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        echo = self._echo.pop((device_id, func_code, address), None)
        words = echo or self._access(device_id, func_code, address, count, None)
        if isinstance(words, ExcCodes) or func_code not in _BIT_FCS:
            return words
        return [bool(w) for w in words]

    async def async_setValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        words = [int(v) for v in values]
        done = self._access(device_id, func_code, address, len(words), words)
        if isinstance(done, ExcCodes):
            return done
        if func_code in _ECHOED_FCS:  # pymodbus reads the reply's value back next
            self._echo[(device_id, func_code, address)] = words
        return None

    def exception_status(self, device_id: int) -> int | ExcCodes:
        """Function 07's status byte of unit ``device_id``."""
        bank = self._bank(device_id)
        if isinstance(bank, ExcCodes):
            return bank
        try:
            return bank.exception_status() & 0xFF
        except BankError as err:
            return ExcCodes(err.code)

    def screen(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
        """The ``trace_pdu`` hook: a request the unit does not implement is not run.

        It gets exception 01, or on RTU no reply (None: the handler drops it) from a unit that
        stays silent.
        """
        bank = self._banks.get(pdu.dev_id)
        if sending or bank is None or _implements(bank, pdu):
            return pdu
        return None if self._rtu and bank.silent_on_unsupported else _IllegalFunction(pdu)


def _implements(bank: RegisterBank, pdu: ModbusPDU) -> bool:
    if pdu.function_code not in bank.function_codes:
        return False
    return pdu.function_code != DIAGNOSTICS or pdu.sub_function_code == RETURN_QUERY_DATA


class _IllegalFunction(ModbusPDU):
    """Stands in for a request the unit does not implement: answers exception 01."""

    def __init__(self, request: ModbusPDU) -> None:
        super().__init__(dev_id=request.dev_id, transaction_id=request.transaction_id)
        self.function_code = request.function_code

    async def datastore_update(self, context: ModbusServerContext, device_id: int) -> ModbusPDU:
        return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)


class _ExceptionStatusRequest(ReadExceptionStatusRequest):
    """Function 07 answered from the unit's bank (pymodbus answers its own counters)."""

    async def datastore_update(self, context: ModbusServerContext, device_id: int) -> ModbusPDU:
        status = cast(_BankContext, context).exception_status(device_id)
        if isinstance(status, ExcCodes):
            return ExceptionResponse(self.function_code, status)
        return ReadExceptionStatusResponse(
            status=status, dev_id=device_id, transaction_id=self.transaction_id
        )


class _FrameAfterSilence(FramerRTU):
    """RTU framing as a unit sees it: a frame starts at the first byte after a silence.

    A request arrives whole in one read of the pty (each master writes a frame at once), so
    a buffer that does not start with a function code pymodbus can size is one garbled or
    unknown frame, discarded entirely instead of searched for a later frame start.
    """

    def decode(self, data: bytes) -> tuple[int, int, int, bytes]:
        if len(data) >= self.MIN_SIZE and self.decoder.lookupPduClass(data) is None:
            return len(data), 0, 0, self.EMPTY
        return super().decode(data)


@contextlib.asynccontextmanager
async def serve_units(
    banks: Mapping[int, RegisterBank],
    *,
    tcp: tuple[str, int] | None = None,
    serial_port: str | None = None,
    baudrate: int = 19200,
) -> AsyncIterator[int | None]:
    """A real pymodbus server for simulated units; yields the bound TCP port (None for RTU).

    ``tcp=(host, 0)`` picks a free port. On RTU a request for a unit not in ``banks`` gets no
    reply (as on an RS-485 line); over TCP it gets exception 0x0B (gateway target failed).
    """
    if (tcp is None) == (serial_port is None):
        raise ValueError("serve_units needs exactly one of tcp= or serial_port=")
    # imported here: the server side (and its simulator web app) is for simulators only, and
    # costs the daemon a tenth of a second at every start
    from pymodbus.server import ModbusSerialServer, ModbusTcpServer

    context = _BankContext(banks, rtu=serial_port is not None)
    screen = cast(Callable[[bool, ModbusPDU], ModbusPDU], context.screen)  # None: no reply
    server: ModbusTcpServer | ModbusSerialServer
    if tcp is not None:
        server = ModbusTcpServer(
            context, address=tcp, trace_pdu=screen, custom_pdu=[_ExceptionStatusRequest]
        )
    else:
        server = ModbusSerialServer(
            context,
            port=cast(str, serial_port),
            baudrate=baudrate,
            framer=FramerType.RTU,
            ignore_missing_devices=True,
            trace_pdu=screen,
            custom_pdu=[_ExceptionStatusRequest],
        )
        server.framer = _FrameAfterSilence  # the class pymodbus builds each handler's framer from
    await server.serve_forever(background=True)
    listener: asyncio.Server | None = None
    if isinstance(server, ModbusTcpServer):
        listener = cast(asyncio.Server, server.transport)
    try:
        yield None if listener is None else int(listener.sockets[0].getsockname()[1])
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped
        if listener is not None:
            await listener.wait_closed()
        await asyncio.sleep(0)  # let closed transports run their connection_lost callbacks
