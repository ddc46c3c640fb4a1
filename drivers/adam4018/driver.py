"""ADAM-4018/4018+ driver: one channel as a :class:`ThermocoupleInput`, over DCON ASCII.

``connect`` reads the module name (``$AAM``, ADAM 4000 Series User's Manual p. 5-12) and
configuration (``$AA2``, p. 5-9) and refuses a module whose input is not a thermocouple type or
whose data format is not engineering units; ``read`` sends ``#AAN`` (p. 5-15). The module does
not answer a frame it cannot use (bad checksum, other address: "no response", on every command
page), so a checksum setting that disagrees with the module's shows up as DeviceTimeout.
"""

from __future__ import annotations

import logging
import math

from drivers._serial.line import Line
from drivers.adam4018 import protocol as dcon
from drivers.capabilities import ThermocoupleReading
from drivers.clock import Clock
from drivers.errors import ConfigurationError

log = logging.getLogger(__name__)


class Adam4018:
    """One thermocouple channel of an ADAM-4018 module at ``address`` on an RS-485 line."""

    def __init__(
        self,
        line: Line,
        *,
        address: int,
        channel: int,
        checksum: bool,
        clock: Clock,
        timeout_s: float = 0.5,
    ) -> None:
        if not 0 <= address <= 0xFF or not 0 <= channel <= 7:
            raise ConfigurationError(
                f"ADAM-4018 address 0..255 and channel 0..7: {address}, {channel}"
            )
        self._line, self._clock, self._checksum = line, clock, checksum
        self._address, self._channel, self._timeout_s = address, channel, timeout_s
        self._aa = f"{address:02X}"
        self._range_c: tuple[float, float] | None = None  # the input type's range, from connect
        self._open_wire: bool | None = None

    async def connect(self) -> None:
        name = dcon.parse_name(await self._ask(f"${self._aa}M"), self._address)
        config = dcon.parse_config(await self._ask(f"${self._aa}2"), self._address)
        tc_type = dcon.TC_TYPES.get(config.type_code)
        if tc_type is None:
            raise ConfigurationError(
                f"ADAM-{name} at {self._aa}: input type {config.type_code:02X} "
                "is not a thermocouple"
            )
        if config.format_bits != dcon.ENGINEERING_UNITS:
            raise ConfigurationError(
                f"ADAM-{name} at {self._aa}: data format {config.data_format:02X}, "
                "labctl reads engineering units (00)"
            )
        self._range_c = (tc_type.low_c, tc_type.high_c)
        log.info(
            "ADAM-%s at %s: type %s thermocouple, %g..%g °C",
            name,
            self._aa,
            tc_type.kind,
            tc_type.low_c,
            tc_type.high_c,
        )

    async def read(self) -> ThermocoupleReading:
        value = dcon.parse_channel(await self._ask(f"#{self._aa}{self._channel}"))
        at = self._clock.now()
        temp: float | None = value.value_c
        under = temp == 0 and math.copysign(1.0, temp) < 0  # "-0000.0": below the range
        if value.open_wire or under or not self._in_range(value.value_c):
            temp = None
        if value.open_wire != self._open_wire:
            if value.open_wire or self._open_wire is not None:
                log.warning(
                    "ADAM %s channel %d: %s",
                    self._aa,
                    self._channel,
                    "open wire" if value.open_wire else "thermocouple back",
                )
            self._open_wire = value.open_wire
        return ThermocoupleReading(at=at, temp_c=temp, open_wire=value.open_wire)

    def _in_range(self, value_c: float) -> bool:
        if self._range_c is None:
            return True
        low, high = self._range_c
        return low <= value_c <= high

    async def _ask(self, command: str) -> str:
        request = dcon.frame(command, with_checksum=self._checksum)
        async with self._line.transaction() as tx:
            reply = await tx.ask(
                request, until=dcon.CR, timeout_s=self._timeout_s, max_bytes=dcon.MAX_REPLY
            )
        return dcon.unframe(reply, with_checksum=self._checksum)
