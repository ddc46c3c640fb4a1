"""Omron E5CC (E5□C) family: register table, driver and simulator (crucible controller)."""

from drivers.omron_e5cc.driver import OmronE5cc
from drivers.omron_e5cc.registers import IDENTITY, MAP

__all__ = ["IDENTITY", "MAP", "OmronE5cc"]
