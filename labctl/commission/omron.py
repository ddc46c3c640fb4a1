"""Commissioning an Omron E5CC crucible controller (H175 communications manual, 2-byte mode).

Inhibit is the driver's safe state: communications writing enabled, STOP stored in EEPROM,
then RAM write mode and the SP low, each command verified by the status bit it changes
(H175 §3-2). No host watchdog is documented for the E5CC (none among H175's communications
settings, as ``drivers.omron_e5cc`` notes), so the ``lease`` check says so: the site must have
accepted that risk (``accept_crucible_without_lease``), which the config loader demands.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.omron_e5cc import IDENTITY, OmronE5cc
from drivers.omron_e5cc.registers import DECIMALS
from labctl.commission.checks import CheckList
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, identity_of

SAFE_SP_C = 0.0  # the SP the driver's safe state writes (RAM mode)


async def _inhibit(target: ModbusTarget) -> str:
    await OmronE5cc(target.device, safe_sp_c=SAFE_SP_C).safe_state()
    return (
        "writing enabled, STOP stored (status bit 24 read back), RAM mode (bit 20), "
        f"SP {SAFE_SP_C:g} °C read back"
    )


def _identify(target: ModbusTarget, values: Mapping[str, float], checks: CheckList) -> bool:
    complete = identity_of(values, tuple(IDENTITY), checks)
    point = values.get("decimal_point")
    return checks.add(
        "identity",
        complete and point == DECIMALS,
        f"decimal-point monitor (0x2410) = {'unread' if point is None else f'{point:g}'}, "
        f"labctl's table expects {DECIMALS}; input type (0x2C00) = "
        f"{checks.identity.get('input_type', 'unread')}; the SP limits are not in labctl's "
        "table, so no range is checked",
    )


async def _writes(target: ModbusTarget) -> str:
    await target.device.write("sp", SAFE_SP_C)
    return f"SP (0x2103) = {SAFE_SP_C:g} °C in RAM mode read back; operation commands by status"


async def _lease(target: ModbusTarget, checks: CheckList) -> None:
    accepted = target.caster().accept_crucible_without_lease
    checks.add(
        "lease",
        accepted,
        "the E5CC has no host watchdog: heat streamed to it stays on if labctl dies; "
        + (
            "the site accepts this (accept_crucible_without_lease = true)"
            if accepted
            else "the site has not accepted this"
        ),
    )


FAMILY = ModbusFamily(
    _inhibit, _identify, _writes, _lease, tuple(IDENTITY),
    reads={"status": ("status", "status_lo")}, write_only=("command",),
)  # fmt: skip
