"""Delta VFD-B register table, shared by the driver, the simulator and the tests.

Run-time registers (0x2000 command, 0x2001 frequency, 0x21xx monitor) and the max-frequency
parameter (0x0100) are from devices.md §C.3 (LinuxCNC ``vfdb_vfd.c``, a VFD-EL driver agrees).
The other parameters follow the same addressing (parameter GG-nn at 0xGGnn, as 01-00 is at
0x0100) with the VFD-B's group 01 (ramp times) and group 09 (communication) numbers; those, the
status bits and the fault codes are assumptions listed in ``NOTES.md`` [U].
"""

from __future__ import annotations

import enum

from drivers._modbus.codecs import UINT16
from drivers._modbus.registers import Poll, Register, RegisterMap

C3 = "devices.md §C.3"
ASSUMED = "VFD-B parameter numbering, NOTES.md [U]"


class Command(enum.IntFlag):
    """Command word 0x2000 (§C.3). STOP, RUN and JOG share bits 0-1; FWD and REV bits 4-5."""

    STOP = 0x0001
    RUN = 0x0002
    FWD = 0x0010
    REV = 0x0020
    EF = 0x1000  # external fault (E-stop)
    RESET = 0x2000  # fault reset


RUN_MASK = 0x0003  # 1 stop, 2 run, 3 jog
DIR_MASK = 0x0030  # 0x10 forward, 0x20 reverse


class DriveState(enum.IntEnum):
    """Status word 0x2101 bits 0-1 [U]."""

    STOPPED = 0
    DECELERATING = 1
    STANDBY = 2
    RUNNING = 3


STATUS_FREQ_FROM_COMMS = 1 << 8  # [U]
STATUS_CMD_FROM_COMMS = 1 << 10  # [U]


class Fault(enum.IntEnum):
    """Fault codes in 0x2100 that the simulator raises [U]."""

    NONE = 0
    OVER_CURRENT = 1  # oc
    OVER_VOLTAGE = 2  # ov
    OVERHEAT = 3  # oH
    OVERLOAD = 4  # oL
    EXTERNAL = 6  # EF
    COMM_TIMEOUT = 58  # CE10, Modbus transmission time-out (VFD-EL list)


class CommLossAction(enum.IntEnum):
    """Parameter 09-02, transmission fault treatment [U]."""

    WARN_CONTINUE = 0
    WARN_RAMP_STOP = 1
    WARN_COAST_STOP = 2
    CONTINUE = 3


def _hz(name: str, address: int, *, poll: Poll = Poll.NEVER, writable: bool = False) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        decimals=2,
        unit="Hz",
        writable=writable,
        limits=(0.0, 400.0) if writable else None,
        poll=poll,
        ref=C3,
    )


def _seconds(name: str, address: int, low: float, high: float) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        decimals=1,
        unit="s",
        writable=True,
        nonvolatile=True,
        limits=(low, high),
        ref=ASSUMED,
    )


MAP = RegisterMap(
    (
        Register(name="drive_id", address=0x0000, codec=UINT16, ref=f"00-00 identity, {ASSUMED}"),
        _hz("max_freq", 0x0100),  # 01-00
        _seconds("accel_time", 0x0109, 0.0, 600.0),  # 01-09 accel time 1: 0 Hz to max_freq
        _seconds("decel_time", 0x010A, 0.0, 600.0),  # 01-10 decel time 1: max_freq to 0 Hz
        Register(
            name="comm_fault_treatment",
            address=0x0902,
            codec=UINT16,
            writable=True,
            nonvolatile=True,
            limits=(0, CommLossAction.CONTINUE),
            ref=f"09-02, {ASSUMED}",
        ),
        _seconds("comm_timeout", 0x0903, 0.0, 120.0),  # 09-03, 0 = detection off
        Register(name="command", address=0x2000, codec=UINT16, writable=True, ref=C3),
        _hz("freq_cmd", 0x2001, writable=True),
        Register(name="fault_code", address=0x2100, codec=UINT16, poll=Poll.FAST, ref=C3),
        Register(name="status", address=0x2101, codec=UINT16, poll=Poll.FAST, ref=C3),
        _hz("output_freq", 0x2103, poll=Poll.FAST),
        Register(
            name="output_current",
            address=0x2104,
            codec=UINT16,
            decimals=1,
            unit="A",
            poll=Poll.FAST,
            ref=f"{C3}; 0.1 A assumed",
        ),
        Register(name="rpm", address=0x210C, codec=UINT16, unit="rpm", poll=Poll.FAST, ref=C3),
    )
)

IDENTITY = ("drive_id", "max_freq")  # re-read after every reconnect by the bus
