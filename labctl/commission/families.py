"""The Modbus register table and identity registers of each Modbus device family.

Commissioning reads a device through the same table its driver uses; this is that table per
family name of the site config (``[devices.NAME] family``).
"""

from __future__ import annotations

from drivers import delta_vfd, eurotherm3200, iomodule, omron_e5cc
from drivers._modbus.registers import RegisterMap

#: family -> (register map, identity register names).
MODBUS_TABLES: dict[str, tuple[RegisterMap, tuple[str, ...]]] = {
    "eurotherm3200": (eurotherm3200.MAP, tuple(eurotherm3200.IDENTITY)),
    "omron_e5cc": (omron_e5cc.MAP, tuple(omron_e5cc.IDENTITY)),
    "iomodule": (iomodule.MAP, tuple(iomodule.IDENTITY)),
    "delta_vfd": (delta_vfd.MAP, tuple(delta_vfd.IDENTITY)),
}


def table_facts(family: str) -> dict[str, object]:
    """What the table says about the wire, for the config digest.

    Each register's address, table, codec, scale and whether the manual lists it, and the
    other address spans the manual lists (a planned block may cross them).
    """
    regmap, _identity = MODBUS_TABLES[family]
    registers = [
        [r.name, r.table.value, r.address, r.codec.kind.name, r.codec.order.value, r.decimals,
         r.scale, r.writable, r.documented]
        for r in sorted(regmap, key=lambda r: (r.table.value, r.address))
    ]  # fmt: skip
    spans = [[s.table.value, s.first, s.last] for s in regmap.spans]
    return {"registers": registers, "documented": spans}
