"""Burnout programs: typed segments and pure setpoint generation (no I/O, time as argument)."""
