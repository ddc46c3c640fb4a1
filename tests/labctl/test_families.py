"""The families table is the one list of device families: everything else agrees with it.

Each check names what to add when a new family's row is there but one of its other lines is not.
"""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import pytest

from drivers import wire_time
from drivers.families import CASTER_ROLES, FAMILIES, KILN_ROLES, families_for, modbus_table
from labctl.commission.runner import MODBUS_FAMILIES as COMMISSIONING
from labctl.config.buses import DEVICE_SECTIONS, DeviceSection
from labctl.config.caster import CasterSection
from labctl.config.kiln import KilnSection

ROOT = Path(__file__).resolve().parents[2]


def config_families(section: type[object]) -> set[str]:
    field = section.model_fields["family"]  # type: ignore[attr-defined]
    return set(typing.get_args(field.annotation))


def test_the_config_accepts_exactly_the_families_of_the_table() -> None:
    accepted = set().union(*(config_families(s) for s in DEVICE_SECTIONS))
    assert accepted == FAMILIES.keys()


def test_modbus_devices_are_the_families_with_a_register_map() -> None:
    with_map = {name for name, family in FAMILIES.items() if family.modbus is not None}
    assert config_families(DeviceSection) == with_map


def test_every_role_a_machine_names_has_a_family_to_fill_it() -> None:
    kiln_roles = set(KilnSection(controller="c", flask_tc="t", max_temp_c=900).roles())
    assert kiln_roles == set(KILN_ROLES)
    caster_fields = set(CasterSection.model_fields)
    assert set(CASTER_ROLES) <= caster_fields
    for role in (*KILN_ROLES, *CASTER_ROLES):
        assert families_for(role), role


def test_a_controller_family_makes_a_driver_and_streams_a_register_of_its_map() -> None:
    for family in FAMILIES.values():
        heats = bool(family.roles & {"controller", "crucible"})
        assert (family.controller is not None) == heats, family.name
        if family.streamed_register is not None:
            register = modbus_table(family.name).map[family.streamed_register]
            assert register.writable, family.name


def test_a_serial_family_has_no_register_table() -> None:
    with pytest.raises(KeyError, match="tpg36x is a serial instrument"):
        modbus_table("tpg36x")


def test_every_family_has_its_wire_timing_and_its_commissioning() -> None:
    assert wire_time.TURNAROUND.keys() >= FAMILIES.keys()
    modbus = {name for name, family in FAMILIES.items() if family.modbus is not None}
    assert set(COMMISSIONING) == modbus


def _simulator_contract_modules() -> set[str]:
    """What the contracts forbid labctl's runtime: the contract that lists drivers._sim."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    forbidden: set[str] = set()
    for contract in contracts:
        modules = set(contract.get("forbidden_modules", ()))
        if "drivers._sim" in modules:
            forbidden |= modules
    return forbidden


def test_the_daemon_contract_forbids_every_family_simulator() -> None:
    forbidden = _simulator_contract_modules()
    for family in FAMILIES.values():
        folder = ROOT / "drivers" / family.name
        assert (folder / "sim.py").is_file(), f"{family.name} has no simulator"
        for module in family.simulator_modules:
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
            assert module in forbidden, f"add {module} to the simulators contract in pyproject"
