"""Shared Modbus machinery: codecs, register maps, read planning, the bus, its devices, pymodbus."""
