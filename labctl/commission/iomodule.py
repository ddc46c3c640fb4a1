"""Commissioning the caster's Modbus I/O module and its comms watchdog.

Inhibit is the driver's connect (watchdog timeout = the caster's ``io_lease_s`` and enable,
read back) and safe state (every coil to its safe value: all off, vent open, each read back).
The ``lease`` check closes the vent valve (harmless: the pump is off), stops talking for the
lease and a margin, then reads that the module put every coil back to its safe value and
raised its comm-safety flag (ADAM-4000 Modbus "Comm Safety" 40215/40216, as the driver's
table cites them).
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.iomodule import IDENTITY, IoModule
from drivers.iomodule.registers import COILS, SAFE
from labctl.commission.checks import CheckList
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, identity_of

PROBE_COIL = "vent_valve"  # closed for the lease test: nothing happens with the pump off
MARGIN = 0.1  # silence = lease x (1 + MARGIN), at least MIN_MARGIN_S more
MIN_MARGIN_S = 1.0


async def _inhibit(target: ModbusTarget) -> str:
    lease = target.caster().io_lease_s
    module = IoModule(target.device, lease_s=lease)
    await module.connect()
    await module.safe_state()
    return f"every coil safe (all off, vent open), read back; watchdog armed at {lease:g} s"


def _identify(target: ModbusTarget, values: Mapping[str, float], checks: CheckList) -> bool:
    complete = identity_of(values, tuple(IDENTITY), checks)
    return checks.add(
        "identity",
        complete,
        f"module name (40211) = {checks.identity.get('module_id', 'unread')}; "
        f"{len(COILS)} coils and the inputs answered at the site's wiring addresses"
        if complete
        else "the module name (40211) did not read",
    )


async def _writes(target: ModbusTarget) -> str:
    lease = target.caster().io_lease_s
    await target.device.write("comm_safety_timeout", lease)
    await target.device.write("comm_safety_enable", 1)
    return f"comm-safety timeout = {lease:g} s and enable = 1 read back"


async def _lease(target: ModbusTarget, checks: CheckList) -> None:
    device, lease = target.device, target.caster().io_lease_s
    silent = lease + max(MIN_MARGIN_S, lease * MARGIN)
    await device.write(PROBE_COIL, not SAFE[PROBE_COIL])
    await target.clock.sleep(silent)
    values = (await device.read(("comm_safety_flag", *COILS))).values
    unsafe = [name for name in COILS if bool(values[name]) != SAFE[name]]
    flag = bool(values["comm_safety_flag"])
    checks.add(
        "lease",
        flag and not unsafe,
        f"{PROBE_COIL} set unsafe, then {silent:g} s without a request (lease {lease:g} s): "
        f"comm-safety flag {'set' if flag else 'NOT set'}; "
        + (f"coils NOT safe: {', '.join(unsafe)}" if unsafe else "every coil back to safe"),
        silent_ms=round(silent * 1000),
        lease_ms=round(lease * 1000),
    )


FAMILY = ModbusFamily(_inhibit, _identify, _writes, _lease, tuple(IDENTITY))
