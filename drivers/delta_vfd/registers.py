"""Delta VFD-B register table, shared by the driver, the simulator and the tests.

Every register carries the manual page it comes from (``ref``). The run-time registers follow
Delta's communication "Address list": 2000H command word, 2001H frequency command, 2002H
control bits (EF, reset, base block), 21xxH monitor. The VFD-B pages of that list were only
partly readable, so the 20xxH bit layout is cited from the same table in the CP2000 manual;
``NOTES.md`` says which facts were read where, and lists every assumption [U].
"""

from __future__ import annotations

import enum

from drivers._modbus.codecs import UINT16
from drivers._modbus.registers import DocumentedSpan, Poll, Register, RegisterMap, Table

VFDB = "Delta VFD-B user manual (rev. 10/2005, BE13)"
VFDB_LIST = f"{VFDB} ch.5 Pr.09 §3.5 address list p.5-101/5-102"
CP2000_LIST = "Delta CP2000 user manual ch.12 Pr.09 '4. Address list' p.12.1-09-8"
VFDB_GROUP9 = f"{VFDB} ch.5 summary, group 9, p.5-16"
ASSUMED = "assumption [U], NOTES.md"


class Command(enum.IntFlag):
    """Command word 2000H (CP2000 p.12.1-09-8; VFD-B address list).

    Bits 1-0: 01B stop, 10B run, 11B jog + run. Bits 5-4: 01B FWD, 10B REV, 11B change
    direction. Bits 7-6 (accel/decel set) and 11-8 (multi-step speed) act only with bit 12
    ("enable bit 6-11 function"); bits 3-2 and 15 are reserved. No fault bits live here.
    """

    STOP = 0x0001
    RUN = 0x0002
    FWD = 0x0010
    REV = 0x0020
    ENABLE_BITS_6_11 = 0x1000


RUN_MASK = 0x0003  # 1 stop, 2 run, 3 jog + run
DIR_MASK = 0x0030  # 0x10 forward, 0x20 reverse, 0x30 change direction


class Control(enum.IntFlag):
    """Control bits 2002H (CP2000 p.12.1-09-8; VFD-B address list): bits 15-3 reserved."""

    EF = 0x0001  # external fault on: the drive trips (EF)
    RESET = 0x0002  # clears a trip
    BASE_BLOCK = 0x0004  # B.B on: output off while set


class DriveState(enum.IntEnum):
    """Status word 2101H bits 1-0 (C2000 Plus app. A p.A-10; VFD-B page not read [U])."""

    STOPPED = 0
    DECELERATING = 1
    STANDBY = 2
    RUNNING = 3


STATUS_FREQ_FROM_COMMS = 1 << 8  # 2101H bit 8, as bits 1-0
STATUS_CMD_FROM_COMMS = 1 << 10  # 2101H bit 10, as bits 1-0


class Fault(enum.IntEnum):
    """Fault codes in 2100H that the simulator raises [U]: numbering not read, NOTES.md."""

    NONE = 0
    OVER_CURRENT = 1  # oc
    OVER_VOLTAGE = 2  # ov
    OVERHEAT = 3  # oH
    OVERLOAD = 4  # oL
    EXTERNAL = 6  # EF
    COMM_TIMEOUT = 58  # CE10, Modbus transmission time-out (VFD-EL list)


class CommLossAction(enum.IntEnum):
    """Parameter 09-02, transmission fault treatment (VFD-B p.5-16); factory 03."""

    WARN_CONTINUE = 0
    WARN_RAMP_STOP = 1
    WARN_COAST_STOP = 2
    CONTINUE = 3


def _hz(
    name: str, address: int, ref: str, *, poll: Poll = Poll.NEVER, writable: bool = False
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        decimals=2,
        unit="Hz",
        writable=writable,
        limits=(0.0, 400.0) if writable else None,
        poll=poll,
        ref=ref,
    )


def _seconds(
    name: str, address: int, low: float, high: float, ref: str, *, documented: bool = True
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        decimals=1,
        unit="s",
        writable=True,
        nonvolatile=True,
        limits=(low, high),
        ref=ref,
        documented=documented,
    )


_PARAM = f"GGnnH = Pr.GG-nn ({CP2000_LIST})"

MAP = RegisterMap(
    (
        Register(
            name="drive_id",
            address=0x0000,
            codec=UINT16,
            ref=f"Pr.00-00, {_PARAM}; {ASSUMED}",
            documented=False,  # parameter numbering of groups 00/01 not read
        ),
        Register(
            name="max_freq",
            address=0x0100,
            codec=UINT16,
            decimals=2,
            unit="Hz",
            ref=f"Pr.01-00, {_PARAM}; 0.01 Hz {ASSUMED}",
            documented=False,
        ),
        _seconds(
            "accel_time", 0x0109, 0.0, 600.0, f"Pr.01-09, {_PARAM}; {ASSUMED}", documented=False
        ),
        _seconds(
            "decel_time", 0x010A, 0.0, 600.0, f"Pr.01-10, {_PARAM}; {ASSUMED}", documented=False
        ),
        Register(
            name="comm_fault_treatment",
            address=0x0902,
            codec=UINT16,
            writable=True,
            nonvolatile=True,
            limits=(0, CommLossAction.CONTINUE),
            ref=f"Pr.09-02 0..3, {VFDB_GROUP9}; address {_PARAM}",
        ),
        _seconds(  # 0.0 = detection off
            "comm_timeout", 0x0903, 0.0, 60.0, f"Pr.09-03 0.0..60.0 s, {VFDB_GROUP9}; {_PARAM}"
        ),
        Register(
            name="command", address=0x2000, codec=UINT16, writable=True, ref=f"2000H, {CP2000_LIST}"
        ),
        _hz("freq_cmd", 0x2001, f"2001H XXX.XX Hz, {CP2000_LIST}", writable=True),
        Register(
            name="control", address=0x2002, codec=UINT16, writable=True, ref=f"2002H, {CP2000_LIST}"
        ),
        Register(
            name="fault_code",
            address=0x2100,
            codec=UINT16,
            poll=Poll.FAST,
            ref=f"2100H, {CP2000_LIST}; codes {ASSUMED}",
        ),
        Register(
            name="status",
            address=0x2101,
            codec=UINT16,
            poll=Poll.FAST,
            ref="2101H, Delta C2000 Plus user manual app. A p.A-10",
        ),
        _hz(
            "output_freq",
            0x2103,
            "2103H XXX.XX Hz, Delta C2000 Plus user manual app. A p.A-10",
            poll=Poll.FAST,
        ),
        Register(
            name="output_current",
            address=0x2104,
            codec=UINT16,
            decimals=1,
            unit="A",
            poll=Poll.FAST,
            ref=f"2104H AXXX.X, {VFDB_LIST}",
        ),
        Register(
            name="rpm",
            address=0x210C,
            codec=UINT16,
            unit="rpm",
            poll=Poll.FAST,
            ref=f"210CH motor speed (rpm), {VFDB_LIST}",
        ),
    ),
    documented=(  # the monitor block between the registers above, read as one block
        DocumentedSpan(Table.HOLDING, 0x2102, 0x2102, "2102H frequency command, C2000 Plus p.A-10"),
        DocumentedSpan(Table.HOLDING, 0x2105, 0x210B, f"2105H..210BH, {VFDB_LIST}"),
    ),
)

IDENTITY = ("drive_id", "max_freq")  # re-read after every reconnect by the bus
