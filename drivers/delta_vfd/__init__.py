"""Delta VFD-B style drive for a centrifugal arm: register table, driver and simulator."""

from drivers.delta_vfd.driver import DeltaVfd
from drivers.delta_vfd.registers import IDENTITY, MAP

__all__ = ["IDENTITY", "MAP", "DeltaVfd"]
