"""What the commissioning record says about a Modbus family's register table.

Commissioning reads a device through the same table its driver uses (:mod:`drivers.families`);
the record's config digest carries that table, so a changed map asks for commissioning again.
"""

from __future__ import annotations

from drivers.families import modbus_table


def table_facts(family: str) -> dict[str, object]:
    """What the table says about the wire, for the config digest.

    Each register's address, table, codec, scale and whether the manual lists it, and the
    other address spans the manual lists (a planned block may cross them).
    """
    regmap = modbus_table(family).map
    registers = [
        [r.name, r.table.value, r.address, r.codec.kind.name, r.codec.order.value, r.decimals,
         r.scale, r.writable, r.documented]
        for r in sorted(regmap, key=lambda r: (r.table.value, r.address))
    ]  # fmt: skip
    spans = [[s.table.value, s.first, s.last] for s in regmap.spans]
    return {"registers": registers, "documented": spans}
