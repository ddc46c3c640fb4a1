"""Commissioning the caster's Modbus I/O module and its comm safety (the module's watchdog).

labctl writes no comm-safety setting: the ADAM-4000 manual gives Modbus only read access to
Comm Safety Enable and Flag (appendix G: 40215/40216, attribute R) and sets the timeout and
safety value over DCON (``$AAX0TTTTDD``), as :mod:`drivers.iomodule.dcon` cites. So:

* ``identity``: the module name (40211), and Comm Safety Enable (40215) reads 1; a module
  without it fails here ("comm safety not enabled", with what to configure) and gets no write;
* ``inhibit``: the driver's connect (the same check) and safe state (every coil to its safe
  value, all off and vent open, each read back);
* ``writes``: no coil is toggled (see :data:`NO_TOGGLE`);
* ``lease``: closes the vent valve (the pump off and the chamber valve closed, it only seals the
  chamber at room pressure), stops talking for ``io_lease_s`` and a margin, then reads that the
  module raised its flag (40216) and put every coil back to its safe value: the module's own
  timeout is then at most that silence. Modbus cannot read the timeout itself (``$AAX1`` does).
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.iomodule import IDENTITY, IoModule
from drivers.iomodule.dcon import CommSafety, how_to_configure
from drivers.iomodule.registers import COILS, SAFE
from labctl.commission.checks import CheckList
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, identity_of

PROBE_COIL = "vent_valve"  # closed for the lease test: it seals the chamber, the pump is off
MARGIN = 0.1  # silence = lease x (1 + MARGIN), at least MIN_MARGIN_S more
MIN_MARGIN_S = 1.0
NO_TOGGLE = (
    "no coil toggled: inhibit wrote every coil to its safe value and read each back; every "
    "other value moves an actuator (pump, chamber or argon valve, pour, lid lock) and closing "
    "the vent seals the chamber, so none is harmless; the lease check closes the vent once, "
    "with the pump off, for the module to reopen it"
)


async def _inhibit(target: ModbusTarget) -> str:
    module = IoModule(target.device, lease_s=target.caster().io_lease_s)
    await module.connect()
    await module.safe_state()
    return "comm safety enabled (40215 = 1); every coil safe (all off, vent open), read back"


def _identify(target: ModbusTarget, values: Mapping[str, float], checks: CheckList) -> bool:
    complete = identity_of(values, tuple(IDENTITY), checks)
    name = f"module name (40211) = {checks.identity.get('module_id', 'unread')}"
    if not complete:
        return checks.add("identity", False, f"{name}: the module name did not read")
    enable = values.get("comm_safety_enable")
    if enable != 1:
        said = "unread" if enable is None else f"{enable:g}"
        remedy = how_to_configure(target.caster().io_lease_s, target.device.unit)
        return checks.add(
            "identity",
            False,
            f"{name}; comm safety not enabled (40215 = {said}): the lease is not armed; {remedy}",
        )
    return checks.add(
        "identity",
        True,
        f"{name}; comm safety enabled (40215 = 1); {len(COILS)} coils and the inputs "
        "answered at the site's wiring addresses",
    )


async def _writes(target: ModbusTarget) -> str:
    return NO_TOGGLE


async def _lease(target: ModbusTarget, checks: CheckList) -> None:
    device, lease = target.device, target.caster().io_lease_s
    silent = lease + max(MIN_MARGIN_S, lease * MARGIN)
    await device.write(PROBE_COIL, not SAFE[PROBE_COIL])
    await target.clock.sleep(silent)
    values = (await device.read(("comm_safety_flag", *COILS))).values
    unsafe = [name for name in COILS if bool(values[name]) != SAFE[name]]
    flag = bool(values["comm_safety_flag"])
    if flag:
        tripped = f"the module tripped within {silent:g} s (its timeout is at most that)"
    else:
        tripped = (
            f"it did NOT trip within {silent:g} s: its comm-safety timeout is longer than "
            f"io_lease_s {lease:g} s plus the margin, or it does not act "
            f"(set it: {CommSafety(lease).command(device.unit)})"
        )
    checks.add(
        "lease",
        flag and not unsafe,
        f"{PROBE_COIL} set unsafe, then {silent:g} s without a request (io_lease_s {lease:g} s): "
        f"comm-safety flag (40216) {'set' if flag else 'NOT set'}, {tripped}; "
        + (f"coils NOT safe: {', '.join(unsafe)}" if unsafe else "every coil back to safe"),
        silent_ms=round(silent * 1000),
        lease_ms=round(lease * 1000),
    )


FAMILY = ModbusFamily(_inhibit, _identify, _writes, _lease, tuple(IDENTITY))
