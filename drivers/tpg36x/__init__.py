"""Pfeiffer TPG 361/362 vacuum gauge controller: serial ASCII with ACK/ENQ."""

from drivers.tpg36x.driver import Tpg36x
from drivers.tpg36x.protocol import GaugeStatus

__all__ = ["GaugeStatus", "Tpg36x"]
