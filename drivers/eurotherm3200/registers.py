"""The Eurotherm 3200 / 3216P register table, shared by the driver, the simulator and the tests.

Facts from HA028651 *3200 Engineering/User Manual* Issue 7 (pages 83, 84, 92) and the
3216P address list of CederGroupHub/alab_control (``furnace_3216p/modbus_addr.csv``), as
collected in ``reference/devices.md`` §A.2. Values are scaled integers (16-bit signed); the
table assumes one decimal place (parameter dEc.P, address 525 = 1), which the driver checks on
connect. Assumptions that the manual pages read do not settle are listed in ``NOTES.md``.
"""

from __future__ import annotations

import enum

from drivers._modbus.codecs import INT16, UINT16
from drivers._modbus.registers import Poll, Register, RegisterMap

MANUAL = "HA028651 §A.2"
ALAB = "alab_control 3216P csv"
SEGMENTS = 8  # 3216P programmer
DECIMALS = 1


class TStat(enum.IntEnum):
    """Timer/program status T.STAT (address 23): NOT the 2400's 1/2/4/8/16 coding."""

    RESET = 0
    RUN = 1
    HOLD = 2
    END = 3


class LoopMode(enum.IntEnum):
    """Address 273."""

    AUTO = 0
    MANUAL = 1


class SetpointSource(enum.IntEnum):
    """Alternative setpoint select (address 276): 1 selects the remote (comms) setpoint."""

    LOCAL = 0
    REMOTE = 1


class EndType(enum.IntEnum):
    """Programmer end type (address 328)."""

    OFF = 0
    DWELL = 1
    SP2 = 2
    RESET = 3


class Status(enum.IntFlag):
    """Status word StAt (address 75), the bits labctl acts on."""

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
    ref: str = MANUAL,
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
    )


def _pct(
    name: str,
    address: int,
    *,
    poll: Poll = Poll.NEVER,
    writable: bool = False,
    nonvolatile: bool = False,
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
        ref=MANUAL,
    )


def _enum(
    name: str,
    address: int,
    high: int,
    *,
    poll: Poll = Poll.NEVER,
    writable: bool = True,
    ref: str = MANUAL,
) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        poll=poll,
        writable=writable,
        limits=(0, high) if writable else None,
        ref=ref,
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
        ),
    )


MAP = RegisterMap(
    (
        _temp("pv", 1, poll=Poll.FAST),
        _temp("target_sp", 2, writable=True, nonvolatile=True),  # EEPROM, ~100 000 writes
        _pct("manual_op", 3, writable=True),
        _pct("working_op", 4, poll=Poll.FAST),
        _temp("working_sp", 5, poll=Poll.FAST),
        _temp("range_lo", 11, poll=Poll.SLOW),
        _temp("range_hi", 12, poll=Poll.SLOW),
        _enum("tstat", 23, TStat.END, poll=Poll.FAST),
        _temp("remote_sp", 26, writable=True),  # volatile: the one setpoint to stream
        _pct("sbrk_op", 34, writable=True, nonvolatile=True),
        Register(
            name="sp_rate",
            address=35,
            codec=INT16,
            decimals=DECIMALS,
            unit="°C/h",
            writable=True,
            nonvolatile=True,
            limits=(0.0, 3000.0),
            ref=MANUAL,
        ),
        _enum("status", 75, 0xFFFF, poll=Poll.FAST, writable=False),
        _enum("inst_id", 122, 0xFFFF, writable=False, ref="2400 map (HA026230); see NOTES.md"),
        _enum("sbrk_flag", 258, 1, poll=Poll.FAST, writable=False, ref=ALAB),
        _enum("loop_mode", 273, LoopMode.MANUAL, poll=Poll.FAST),
        _enum("sp_select", 276, SetpointSource.REMOTE, poll=Poll.FAST),
        _enum("prog_dwell_units", 321, 2, ref=ALAB),
        _temp("prog_holdback", 327, writable=True, nonvolatile=True, ref=ALAB),
        _enum("prog_end_type", 328, EndType.RESET, ref=ALAB),
        _enum("prog_segment", 330, SEGMENTS, poll=Poll.FAST, writable=False, ref=ALAB),
        _enum("decimals", 525, 2, writable=False),
        _enum("ramp_units", 531, 2, ref=MANUAL),  # 0 per minute, 1 per hour, 2 per second
        *(reg for n in range(1, SEGMENTS + 1) for reg in _segment(n)),
    )
)

IDENTITY = ("inst_id", "decimals")  # re-read after every reconnect: same instrument, same scaling
RAMP_PER_HOUR = 1
DWELL_MINUTES = 1
