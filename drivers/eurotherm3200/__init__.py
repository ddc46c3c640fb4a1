"""Eurotherm 3200 family (3216, 3216P): register table, driver and simulator."""

from drivers.eurotherm3200.driver import Eurotherm3200
from drivers.eurotherm3200.registers import IDENTITY, MAP

__all__ = ["IDENTITY", "MAP", "Eurotherm3200"]
