"""The Omron E5CC (E5□C) Modbus table in 2-byte mode, shared by driver, simulator and tests.

Facts from Omron H175 *E5□C Digital Temperature Controllers Communications Manual*: the
2-byte-mode variable area (§5-1 p.5-2), the status bits (§5-2), the operation commands
(§4-4-3 p.4-13) and the Modbus exception codes (§4-1-3 p.4-5). Registers marked
``documented=False`` come from third-party register maps, not from H175 pages read; the read
planner never coalesces across them and ``NOTES.md`` lists them with the other assumptions.
Values are integers with an implied decimal point; this table assumes none (1 °C steps, the
resolution of the K/N/R/S thermocouple ranges a crucible needs), which the driver checks on
connect against the decimal-point monitor.
"""

from __future__ import annotations

import enum

from drivers._modbus.codecs import INT16, UINT16, UINT32
from drivers._modbus.registers import DocumentedSpan, Poll, Register, RegisterMap, Table

H175 = "Omron H175"
VARIABLES = f"{H175} §5-1 Variable Area List p.5-2"
COMMANDS = f"{H175} §4-4-3 p.4-13"
STATUS_REF = f"{H175} §5-2 Status"
THIRD_PARTY = "third-party E5CC register maps (pylablib), not in H175 pages read"
DECIMALS = 0  # decimal-point monitor value the table is written for
SP_LIMITS_C = (-200.0, 1800.0)  # widest thermocouple span (type B/S); the SP limits narrow it

# Modbus exception codes of H175 §4-1-3 "Error Codes" p.4-5.
VARIABLE_DATA_ERROR = 3  # value out of range, or a wrong command code / related info
OPERATION_ERROR = 4  # e.g. "Communications Writing" is OFF, or the command cannot be processed


class Status(enum.IntFlag):
    """The 32-bit status word (H175 §5-2 Status); the low 16 bits are also at 0x2001."""

    HEATER_OVERCURRENT = 1 << 0
    HEATER_CURRENT_HOLD = 1 << 1
    AD_ERROR = 1 << 2  # A/D converter error: no valid measurement
    HS_ALARM = 1 << 3
    RSP_INPUT_ERROR = 1 << 4
    INPUT_ERROR = 1 << 6  # sensor break or over-range
    POTENTIOMETER_ERROR = 1 << 7
    CONTROL_OUTPUT_HEAT = 1 << 8
    CONTROL_OUTPUT_COOL = 1 << 9
    HB_ALARM_1 = 1 << 10
    HB_ALARM_2 = 1 << 11
    ALARM_1 = 1 << 12
    ALARM_2 = 1 << 13
    ALARM_3 = 1 << 14
    PROGRAM_END = 1 << 15
    EVENT_1 = 1 << 16
    EVENT_2 = 1 << 17
    EVENT_3 = 1 << 18
    EVENT_4 = 1 << 19
    RAM_WRITE_MODE = 1 << 20  # 0 backup (EEPROM), 1 RAM
    RAM_NOT_SAVED = 1 << 21  # non-volatile memory: RAM differs from EEPROM
    SETUP_AREA_1 = 1 << 22
    AT_RUNNING = 1 << 23
    STOP = 1 << 24  # RUN/STOP: 1 = stop
    COMMS_WRITING = 1 << 25  # communications writing enabled
    MANUAL = 1 << 26  # auto/manual: 1 = manual
    PROGRAM_START = 1 << 27


class CommandCode(enum.IntEnum):
    """Operation command codes (H175 §4-4-3 p.4-13): high byte of the word written to 0x0000."""

    COMMS_WRITING = 0x00
    RUN_STOP = 0x01
    MULTI_SP = 0x02
    AT = 0x03
    WRITE_MODE = 0x04
    SAVE_RAM = 0x05
    SOFTWARE_RESET = 0x06  # the controller sends no reply
    SETUP_AREA_1 = 0x07
    PROTECT_LEVEL = 0x08
    AUTO_MANUAL = 0x09
    INITIALIZE = 0x0B
    ALARM_LATCH_CANCEL = 0x0C
    SP_MODE = 0x0D  # local / remote SP
    INVERT_DIRECT_REVERSE = 0x0E
    PROGRAM_START = 0x11


def command_word(code: CommandCode, info: int) -> int:
    """The data word of an operation command: code in the high byte, related info in the low."""
    if not 0 <= info <= 0xFF:
        raise ValueError(f"related information must be one byte, got {info}")
    return (int(code) << 8) | info


class Command(enum.IntEnum):
    """The operation command words labctl sends (H175 §4-4-3 p.4-13)."""

    WRITE_DISABLE = command_word(CommandCode.COMMS_WRITING, 0x00)
    WRITE_ENABLE = command_word(CommandCode.COMMS_WRITING, 0x01)  # must be sent first
    RUN = command_word(CommandCode.RUN_STOP, 0x00)
    STOP = command_word(CommandCode.RUN_STOP, 0x01)
    BACKUP_MODE = command_word(CommandCode.WRITE_MODE, 0x00)  # writes go to EEPROM
    RAM_MODE = command_word(CommandCode.WRITE_MODE, 0x01)  # writes stay in RAM
    SOFTWARE_RESET = command_word(CommandCode.SOFTWARE_RESET, 0x00)
    AUTO = command_word(CommandCode.AUTO_MANUAL, 0x00)
    MANUAL = command_word(CommandCode.AUTO_MANUAL, 0x01)


def _temp(name: str, address: int, *, poll: Poll = Poll.NEVER, writable: bool = False) -> Register:
    return Register(
        name=name,
        address=address,
        codec=INT16,
        decimals=DECIMALS,
        unit="°C",
        poll=poll,
        writable=writable,
        limits=SP_LIMITS_C if writable else None,
        ref=VARIABLES,
    )


def _word(name: str, address: int, *, poll: Poll = Poll.NEVER, ref: str) -> Register:
    return Register(
        name=name,
        address=address,
        codec=UINT16,
        poll=poll,
        ref=ref,
        documented=ref.startswith(H175),
    )


MAP = RegisterMap(
    (
        Register(
            name="command",  # write-only: the driver verifies a command by the status bits
            address=0x0000,
            codec=UINT16,
            writable=True,
            limits=(0, 0xFFFF),
            ref=f"{COMMANDS}: operation command, address 0000",
        ),
        _temp("pv", 0x2000, poll=Poll.FAST),
        _word("status_lo", 0x2001, poll=Poll.FAST, ref=STATUS_REF),  # status bits 0-15
        _temp("internal_sp", 0x2002, poll=Poll.FAST),
        Register(
            name="mv_heat",
            address=0x2004,
            codec=INT16,
            decimals=1,
            unit="%",
            poll=Poll.FAST,
            ref=f"{VARIABLES} (-5.0..105.0 %)",
        ),
        # The SP is an EEPROM parameter in backup mode; the driver writes it in RAM mode only.
        _temp("sp", 0x2103, writable=True),
        Register(
            name="status",  # the full 32-bit status, most significant word first (NOTES.md)
            address=0x2406,
            codec=UINT32,
            poll=Poll.FAST,
            ref=f"{THIRD_PARTY}; bits {STATUS_REF}",
            documented=False,
        ),
        _word("decimal_point", 0x2410, ref=f"{THIRD_PARTY} (decimal-point monitor)"),
        _word("input_type", 0x2C00, ref=f"{H175} §5-1 Variable Area List (initial setting)"),
    ),
    documented=(  # the fast block 2000-2004 reads heater current 1 (2003) too
        DocumentedSpan(Table.HOLDING, 0x2003, 0x2003, f"{VARIABLES}: heater current 1"),
        DocumentedSpan(Table.HOLDING, 0x2005, 0x2005, f"{VARIABLES}: MV monitor (cooling)"),
    ),
)

IDENTITY = ("decimal_point", "input_type")  # re-read after every reconnect
