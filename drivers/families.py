"""Every device family labctl drives, one row each: the one place a family is named.

The site config checks ``[devices.NAME] family`` and each machine's roles against this table,
the daemon gives each Modbus device its family's register map and identity registers from it,
caster assembly makes a crucible's driver with its factory, commissioning reads devices through
the same map, the line budget sizes each family's transactions from it, and a test checks that
the import contract keeping simulators out of the daemon lists every row's simulator modules.

Adding a family is one folder (``drivers/<family>/`` with its driver, register map or
protocol, simulator and NOTES.md) plus one row here: the config's ``family`` literal, the
contract's simulator list and the roles follow (``tests/labctl/test_families.py`` says which
line is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from drivers import delta_vfd, eurotherm3200, iomodule, omron_e5cc
from drivers._modbus.device import ModbusDevice
from drivers._modbus.registers import RegisterMap
from drivers.capabilities import TemperatureController

#: What a device does for its machine (the config's field naming it: ``[kilns.NAME] controller``).
Role = Literal["controller", "flask_tc", "crucible", "io", "crucible_tc", "gauge", "drive"]
KILN_ROLES: tuple[Role, ...] = ("controller", "flask_tc")
CASTER_ROLES: tuple[Role, ...] = ("crucible", "io", "crucible_tc", "gauge", "drive")


@dataclass(frozen=True, slots=True)
class ModbusTable:
    """A Modbus family's register map and the registers that identify a device of it."""

    map: RegisterMap
    identity: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One device family.

    ``modbus`` is None for a serial ASCII instrument (on ``[lines]``, its protocol module in its
    folder). ``lease``: the device drops its outputs by itself when labctl goes silent (a comms
    watchdog); a streamed controller without one needs the site's explicit consent. ``controller``
    makes its temperature-controller driver, for families that can heat; ``streamed_register`` is
    the register that driver's ``stream_setpoint`` writes every tick. ``simulators``: the
    modules of its folder that simulate it, which the daemon must never import.
    """

    name: str
    modbus: ModbusTable | None
    roles: frozenset[Role]
    lease: bool
    controller: Callable[[ModbusDevice], TemperatureController] | None = None
    streamed_register: str | None = None
    simulators: tuple[str, ...] = ("sim", "backdoor")

    @property
    def simulator_modules(self) -> tuple[str, ...]:
        return tuple(f"drivers.{self.name}.{module}" for module in self.simulators)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="eurotherm3200",
            modbus=ModbusTable(eurotherm3200.MAP, tuple(eurotherm3200.IDENTITY)),
            roles=frozenset({"controller", "crucible"}),
            lease=True,  # remote-SP comms timeout falls back to the local setpoint
            controller=eurotherm3200.Eurotherm3200,
            streamed_register="remote_sp",
            simulators=("sim",),
        ),
        Family(
            name="omron_e5cc",
            modbus=ModbusTable(omron_e5cc.MAP, tuple(omron_e5cc.IDENTITY)),
            roles=frozenset({"crucible"}),
            lease=False,  # no host watchdog found in its manual: drivers/omron_e5cc/NOTES.md
            controller=omron_e5cc.OmronE5cc,
            streamed_register="sp",
        ),
        Family(
            name="iomodule",
            modbus=ModbusTable(iomodule.MAP, tuple(iomodule.IDENTITY)),
            roles=frozenset({"io"}),
            lease=True,  # comm safety: outputs to their safety values when the host is silent
        ),
        Family(
            name="delta_vfd",
            modbus=ModbusTable(delta_vfd.MAP, tuple(delta_vfd.IDENTITY)),
            roles=frozenset({"drive"}),
            lease=True,  # communication time-out (09-03): ramps to stop
        ),
        # the serial instruments only measure: no output to drop
        Family(name="tpg36x", modbus=None, roles=frozenset({"gauge"}), lease=False),
        Family(
            name="adam4018",
            modbus=None,
            roles=frozenset({"flask_tc", "crucible_tc"}),
            lease=False,
        ),
    )
}


def families_for(role: str) -> frozenset[str]:
    """The families that can fill ``role``."""
    return frozenset(name for name, family in FAMILIES.items() if role in family.roles)


def modbus_table(family: str) -> ModbusTable:
    """The register map and identity of a Modbus family (KeyError names a serial one)."""
    table = FAMILIES[family].modbus
    if table is None:
        raise KeyError(f"{family} is a serial instrument, not a Modbus family")
    return table


#: Families that can heat a crucible but have no comms watchdog (the site accepts the risk).
NO_LEASE_CRUCIBLES = frozenset(f for f in families_for("crucible") if not FAMILIES[f].lease)
