"""Every register of the Modbus families names its source, and what is not documented is
listed as an assumption in the family's NOTES.md (issue 13: our tables are not the device)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivers import delta_vfd, eurotherm3200, iomodule, omron_e5cc
from drivers._modbus.registers import RegisterMap

FAMILIES = {
    "eurotherm3200": eurotherm3200.MAP,
    "omron_e5cc": omron_e5cc.MAP,
    "iomodule": iomodule.MAP,
    "delta_vfd": delta_vfd.MAP,
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("family", "regmap"), FAMILIES.items())
def test_every_register_names_a_source_and_no_internal_notes(
    family: str, regmap: RegisterMap
) -> None:
    for reg in regmap:
        assert reg.ref, f"{family}.{reg.name} has no source"
        assert "devices.md" not in reg.ref and "§A." not in reg.ref, reg.ref
    for span in regmap.spans:
        assert "devices.md" not in span.ref


@pytest.mark.parametrize(("family", "regmap"), FAMILIES.items())
def test_undocumented_registers_are_assumptions_in_notes(family: str, regmap: RegisterMap) -> None:
    notes = (ROOT / "drivers" / family / "NOTES.md").read_text(encoding="utf-8")
    assert "devices.md" not in notes
    ranges = [range(int(a), int(b) + 1) for a, b in re.findall(r"\b(\d+)-(\d+)\b", notes)]
    for reg in regmap:
        if not reg.documented:
            number = rf"(?<![0-9A-F])({reg.address}|{reg.address:04X}H?)(?![0-9A-F])"
            listed = re.search(number, notes, re.IGNORECASE)
            assert listed or any(reg.address in r for r in ranges), (
                f"{family}.{reg.name} ({reg.address}) is undocumented but not in NOTES.md"
            )


def test_product_sources_do_not_cite_internal_notes() -> None:
    for family in FAMILIES:
        for path in (ROOT / "drivers" / family).glob("*.py"):
            assert "devices.md" not in path.read_text(encoding="utf-8"), path
