"""Errors raised by drivers and the bus; nothing above ``drivers`` sees a library exception.

::

    DriverError
    ├── CommunicationError          the exchange failed; the device state is unknown
    │   ├── DeviceTimeout           no (complete) reply in time
    │   ├── FramingError            a reply arrived but was malformed (CRC, length, garbage)
    │   └── LinkDown                not connected (connecting, backing off, or closed)
    ├── DeviceRejected              the device answered with a Modbus exception code
    ├── WriteNotVerified            a write was answered but the read-back disagrees
    ├── IdentityMismatch            after reconnect, a different device answers at the address
    ├── DeviceFault                 the device reports a fault condition (sensor break, ...)
    └── ConfigurationError          a value or map is outside what the device accepts
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error the drivers package raises."""


class CommunicationError(DriverError):
    """The exchange with the device failed; its state is unknown."""


class DeviceTimeout(CommunicationError):
    """No complete reply arrived in time."""


class FramingError(CommunicationError):
    """A reply arrived but could not be decoded."""


class LinkDown(CommunicationError):
    """The link to the device is not up."""


class DeviceRejected(DriverError):
    """The device answered a request with a Modbus exception."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class WriteNotVerified(DriverError):
    """The device acknowledged a write but reading it back gave a different value."""

    def __init__(self, message: str, *, register: str, written: float, read_back: float) -> None:
        super().__init__(message)
        self.register = register
        self.written = written
        self.read_back = read_back


class IdentityMismatch(DriverError):
    """After a reconnect the device at the address is not the one seen before."""


class DeviceFault(DriverError):
    """The device itself reports a fault (sensor break, out of range, ...)."""


class ConfigurationError(DriverError):
    """A register map, value or setting is outside what the device accepts."""
