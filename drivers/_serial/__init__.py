"""Async ASCII serial lines (RS-232/RS-485 or a pty): the only package importing pyserial."""

from drivers._serial.line import Exchange, Line, SerialLine, SerialSettings

__all__ = ["Exchange", "Line", "SerialLine", "SerialSettings"]
