"""Site-config sections for the wires: Modbus buses, serial lines and the devices on them.

``[buses.NAME]`` are Modbus lines (TCP or RTU); ``[lines.NAME]`` are serial ports for ASCII
instruments (a TPG gauge, a DCON module), which speak no Modbus. ``[devices.NAME]`` names one
instrument, its family (:mod:`drivers.families`) and where it answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from labctl.config.base import Strict


class TcpBus(Strict):
    """``[buses.NAME]`` with ``kind = "tcp"``: one Modbus TCP device or gateway."""

    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    timeout_s: float = Field(default=1.0, gt=0, le=30)


class RtuBus(Strict):
    """``[buses.NAME]`` with ``kind = "rtu"``: one RS-485 line."""

    kind: Literal["rtu"]
    port: str = Field(min_length=1)  # /dev/ttyUSB0, /dev/serial/by-id/...
    baudrate: Literal[2400, 4800, 9600, 19200, 38400, 57600, 115200] = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)


Bus = Annotated[TcpBus | RtuBus, Field(discriminator="kind")]
BUS_KINDS = frozenset({"tcp", "rtu"})


class SerialLineSection(Strict):
    """``[lines.NAME]``: one RS-232/RS-485 port for an ASCII instrument."""

    port: str = Field(min_length=1)
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)


class DeviceSection(Strict):
    """``[devices.NAME]``: one Modbus instrument on a bus."""

    family: Literal["eurotherm3200", "omron_e5cc", "iomodule", "delta_vfd"]
    bus: str
    unit: int = Field(default=1, ge=1, le=247)
    max_block_registers: int = Field(default=125, ge=1, le=125)  # FC3 limit
    max_fill_registers: int = Field(default=50, ge=0, le=124)  # Telegraf's default fill


class Tpg36xSection(Strict):
    """``[devices.NAME]`` with ``family = "tpg36x"``: a Pfeiffer TPG 361/362 gauge channel."""

    family: Literal["tpg36x"]
    line: str
    channel: Literal[1, 2] = 1


class Adam4018Section(Strict):
    """``[devices.NAME]`` with ``family = "adam4018"``: one ADAM-4018 thermocouple channel."""

    family: Literal["adam4018"]
    line: str
    address: int = Field(default=1, ge=0, le=255)
    channel: int = Field(default=0, ge=0, le=7)
    checksum: bool = False


SerialDevice = Tpg36xSection | Adam4018Section
Device = Annotated[DeviceSection | SerialDevice, Field(discriminator="family")]
#: Each ``family`` the config accepts (a test checks they are the rows of drivers.families).
DEVICE_SECTIONS: tuple[type[DeviceSection | SerialDevice], ...] = (
    DeviceSection,
    Tpg36xSection,
    Adam4018Section,
)
