"""The Eurotherm 3200 / 3216P register table, shared by the driver, the simulator and the tests.

Every register names its source (``ref``). ``documented`` registers are listed in Eurotherm's
*3200 Series Engineering Handbook* HA028651 Issue 7 §15.5 "Parameter Modbus Addresses"
(pp. 81-82; the same table is p.92 of Issue 10), or in the 3200 address table of an OEM edition
of it (ACS *3216 Operators Manual* §9.3 p.25). The rest come from the 3216P address list
of CederGroupHub/alab_control (``furnace_3216p/modbus_addr.csv``) or Eurotherm's *2000 Series
Communications Handbook* HA026230 Issue 3: the read planner never coalesces across them, and
``NOTES.md`` lists each as an assumption. Values are scaled integers (16-bit signed); the table
assumes one decimal place (dEc.P, address 525 = 1), which the driver checks on connect.
"""

from __future__ import annotations

import enum

from drivers._modbus.codecs import INT16, UINT16
from drivers._modbus.registers import DocumentedSpan, Poll, Register, RegisterMap, Table

HA028651 = "HA028651 Issue 7 §15.5"
P81 = f"{HA028651} p.81"
P82 = f"{HA028651} p.82"
ACS = "ACS 3216 Operators Manual (3200 Series) §9.3 p.25"
ALAB = "alab_control furnace_3216p/modbus_addr.csv (not in HA028651 pages read)"
HA026230 = "HA026230 Issue 3 (2000 series; not in HA028651 pages read)"
SEGMENTS = 8  # 3216P programmer
DECIMALS = 1


class TStat(enum.IntEnum):
    """T.STAT (address 23), HA028651 Issue 7 §15.5 p.81: NOT the 2400's 1/2/4/8/16 coding."""

    RESET = 0
    RUN = 1
    HOLD = 2
    END = 3


class LoopMode(enum.IntEnum):
    """Loop mode, address 273: 0 auto, 1 manual (HA026230's 2400 coding; NOTES.md)."""

    AUTO = 0
    MANUAL = 1


class SetpointSource(enum.IntEnum):
    """Address 276 selects the remote (comms) setpoint (p.81); 0/1 coding: NOTES.md."""

    LOCAL = 0
    REMOTE = 1


class EndType(enum.IntEnum):
    """Programmer end type (address 328): coding from alab_control's driver (NOTES.md)."""

    OFF = 0
    DWELL = 1
    SP2 = 2
    RESET = 3


class Status(enum.IntFlag):
    """StAt (address 75), HA028651 Issue 7 §15.5 p.82: the bits labctl acts on."""

    MANUAL = 1 << 4
    SENSOR_BREAK = 1 << 5
    LOOP_BREAK = 1 << 6
    PROGRAM_END = 1 << 9
    PV_OVER_RANGE = 1 << 10  # more than 5 % of span beyond the range
    REMOTE_SP_FAIL = 1 << 14  # the remote (comms) setpoint is not valid


def _temp(
    name: str,
    address: int,
    *,
    poll: Poll = Poll.NEVER,
    writable: bool = False,
    nonvolatile: bool = False,
    ref: str = P81,
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=INT16,
        decimals=DECIMALS,
        unit="°C",
        poll=poll,
        writable=writable,
        nonvolatile=nonvolatile,
        limits=(-200.0, 1370.0) if writable else None,
        ref=ref,
        documented=ref.startswith(HA028651),
    )


def _pct(
    name: str,
    address: int,
    *,
    poll: Poll = Poll.NEVER,
    writable: bool = False,
    nonvolatile: bool = False,
    ref: str = P81,
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=INT16,
        decimals=DECIMALS,
        unit="%",
        poll=poll,
        writable=writable,
        nonvolatile=nonvolatile,
        limits=(0.0, 100.0) if writable else None,
        ref=ref,
        documented=ref.startswith(HA028651),
    )


def _enum(
    name: str,
    address: int,
    high: int,
    *,
    poll: Poll = Poll.NEVER,
    writable: bool = True,
    ref: str,
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        poll=poll,
        writable=writable,
        limits=(0, high) if writable else None,
        ref=ref,
        documented=ref.startswith((HA028651, ACS)),
    )


def _segment(n: int) -> tuple[Register, ...]:
    base = 1280 + 3 * (n - 1)
    return (
        Register(
            name=f"seg{n}_dwell",
            address=base,
            codec=UINT16,
            unit="min",
            writable=True,
            nonvolatile=True,
            limits=(0, 9999),
            ref=ALAB,
            documented=False,
        ),
        _temp(f"seg{n}_target", base + 1, writable=True, nonvolatile=True, ref=ALAB),
        Register(
            name=f"seg{n}_rate",
            address=base + 2,
            codec=INT16,
            decimals=DECIMALS,
            unit="°C/h",
            writable=True,
            nonvolatile=True,
            limits=(0.0, 3000.0),
            ref=ALAB,
            documented=False,
        ),
    )


# Addresses HA028651 §15.5 lists that labctl does not use: a block may span them.
_LISTED = (
    (6, 9, P81),  # PB, CTRL.A, Ti, Td
    (13, 19, P81),  # A1, A2 thresholds, SP.SEL, D.BAND, CB.Lo, CB.HI, R2G
    (21, 21, P81),  # MTR.T
    (24, 25, P81),  # SP1, SP2
    (68, 69, P82),  # A2.HYS, A3.HYS
    (71, 71, P82),  # A4.HYS
    (76, 76, P82),  # inverted StAt
    (79, 88, P82),  # LL.AMP .. HYST.C
    (101, 103, P82),  # FILT.T, RC.FT, RC.PV
)

MAP = RegisterMap(
    (
        _temp("pv", 1, poll=Poll.FAST),  # PV.IN
        _temp("target_sp", 2, writable=True, nonvolatile=True),  # TG.SP: EEPROM, 100 000 writes
        _pct("manual_op", 3, writable=True),  # MAN.OP
        _pct("working_op", 4, poll=Poll.FAST),  # WRK.OP
        _temp("working_sp", 5, poll=Poll.FAST),  # WKG.SP
        _temp("range_lo", 11, poll=Poll.SLOW),  # RNG.LO
        _temp("range_hi", 12, poll=Poll.SLOW),  # RNG.HI
        _enum("tstat", 23, TStat.END, poll=Poll.FAST, ref=f"{P81} T.STAT 0-3"),
        _temp("remote_sp", 26, writable=True),  # Rm.SP, volatile: the one setpoint to stream
        _pct("sbrk_op", 34, writable=True, nonvolatile=True, ref=f"{HA026230}: 2400's 34"),
        Register(
            name="sp_rate",
            address=35,
            codec=INT16,
            decimals=DECIMALS,
            unit="°C/h",
            writable=True,
            nonvolatile=True,
            limits=(0.0, 3000.0),
            ref=f"{ALAB} SP.Rate; {HA026230}",
            documented=False,
        ),
        _enum("status", 75, 0xFFFF, poll=Poll.FAST, writable=False, ref=f"{P82} StAt bitmap"),
        _enum(
            "inst_version", 107, 0xFFFF, writable=False, ref=f"{ACS}: version, hex 0x0111 = V1.11"
        ),
        _enum("sbrk_flag", 258, 1, poll=Poll.FAST, writable=False, ref=f"{ALAB} STATUS.SBrk"),
        _enum("loop_mode", 273, LoopMode.MANUAL, poll=Poll.FAST, ref=f"{ALAB} CTRL.LoopMode"),
        _enum("sp_select", 276, SetpointSource.REMOTE, poll=Poll.FAST, ref=f"{P81} (Rm.SP: 276)"),
        _enum("prog_dwell_units", 321, 2, ref=f"{ALAB} PROGRAMMER.DwellUnits"),
        _temp("prog_holdback", 327, writable=True, nonvolatile=True, ref=f"{ALAB} Holdback"),
        _enum("prog_end_type", 328, EndType.RESET, ref=f"{ALAB} PROGRAMMER.EndType"),
        _enum(
            "prog_segment", 330, SEGMENTS, poll=Poll.FAST, writable=False, ref=f"{ALAB} ProgramSeg"
        ),
        _enum("decimals", 525, 2, writable=False, ref=f"{ALAB} DecimalPoints; {HA026230} dEc.P"),
        _enum("ramp_units", 531, 2, ref=f"{ALAB} SP.RampUnits"),  # 0 /min, 1 /h, 2 /s
        *(reg for n in range(1, SEGMENTS + 1) for reg in _segment(n)),
    ),
    documented=(DocumentedSpan(Table.HOLDING, a, b, ref) for a, b, ref in _LISTED),
)

# Re-read after every reconnect: the same instrument (version) with the same range and scaling
# (RNG.LO / RNG.HI are scaled integers, so a changed decimal point changes them too).
IDENTITY = ("inst_version", "range_lo", "range_hi")
RAMP_PER_HOUR = 1
DWELL_MINUTES = 1
