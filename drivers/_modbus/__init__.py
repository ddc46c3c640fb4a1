"""Shared Modbus machinery: codecs, register maps, read planning, the bus and its wire adapter."""
