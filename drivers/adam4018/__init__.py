"""Advantech ADAM-4018 thermocouple module: DCON ASCII over RS-485."""

from drivers.adam4018.driver import Adam4018

__all__ = ["Adam4018"]
