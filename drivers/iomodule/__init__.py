"""Caster I/O module (generic Modbus coils and discrete inputs): table, driver and simulator."""

from drivers.iomodule.driver import IoModule
from drivers.iomodule.registers import IDENTITY, MAP

__all__ = ["IDENTITY", "MAP", "IoModule"]
