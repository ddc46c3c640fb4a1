"""Devices by machine and role, the config digest, and which devices hold a passing record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from labctl.commission.record import (
    UnknownDevice,
    commissioned,
    commissioning_records,
    device_digest,
    resolve,
    site_devices,
)
from labctl.commission.runner import sign
from labctl.ledger import keys
from labctl.ledger.audit import audit
from labctl.ledger.ops_records import Commissioning, DeviceCheck
from labctl.ledger.records import Record
from labctl.ledger.service import LedgerService
from tests.labctl.commission.support import SITE, site

AT = dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.UTC)
ALL = ["kiln1", "caster1.crucible", "caster1.io", "caster1.crucible_tc", "caster1.drive"]


def record(cfg_text: str, tmp: Path, device: str, *, passed: bool = True) -> Commissioning:
    return Commissioning(
        device=device,
        family="iomodule",
        identity={"module_id": "16469"},
        firmware=None,
        config_digest=device_digest(site(tmp, cfg_text), device),
        checks=[DeviceCheck(name="lease", passed=passed, detail="", measured={"silent_ms": 1})],
        passed=passed,
        at=AT,
        who="tech",
    )


def test_devices_are_named_by_machine_and_role(tmp_path) -> None:
    cfg = site(tmp_path)
    assert site_devices(cfg) == ALL
    assert resolve(cfg, "io1").device == "caster1.io"  # its [devices] name works too
    assert resolve(cfg, "kiln1").role == "controller"
    with pytest.raises(UnknownDevice, match=r"its devices: kiln1, caster1\.crucible"):
        resolve(cfg, "kiln9")


def test_a_device_no_machine_uses_is_named_as_such(tmp_path) -> None:
    spare = SITE + '[devices.spare]\nfamily = "iomodule"\nbus = "io_link"\nunit = 2\n'
    with pytest.raises(UnknownDevice, match="spare is in \\[devices\\] but no kiln or caster"):
        resolve(site(tmp_path, spare), "spare")


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (("port = 5022", "port = 5099"), {"caster1.io"}),  # the I/O module's bus
        (("io_lease_s = 20", "io_lease_s = 30"), {"caster1.io"}),
        (("drive_lease_s = 5", "drive_lease_s = 6"), {"caster1.drive"}),
        (
            ("crucible_max_c = 1250", "crucible_max_c = 1200"),
            {"caster1.crucible", "caster1.crucible_tc"},
        ),
        (("/dev/ttyUSB9", "/dev/ttyUSB8"), {"caster1.crucible_tc"}),
        (('mode = "stream"', 'mode = "programmer"'), {"kiln1"}),
        (("max_temp_c = 800", "max_temp_c = 700"), {"kiln1"}),
        (('[lab]\nname = "t"', '[lab]\nname = "u"\ntick_s = 3'), set()),  # not the devices'
    ],
)
def test_the_digest_changes_with_what_the_checks_depend_on(tmp_path, edit, changed) -> None:
    before = {d: device_digest(site(tmp_path), d) for d in ALL}
    assert SITE.count(edit[0]) == 1
    edited = site(tmp_path, SITE.replace(*edit))
    after = {d: device_digest(edited, d) for d in ALL}
    assert {d for d in ALL if before[d] != after[d]} == changed


def test_commissioned_needs_a_passing_record_for_the_current_config(tmp_path) -> None:
    cfg = site(tmp_path)
    passing = record(SITE, tmp_path, "caster1.io")
    failing = record(SITE, tmp_path, "caster1.drive", passed=False)
    stale = record(SITE.replace("port = 5020", "port = 5099"), tmp_path, "kiln1")
    state = commissioned([passing, failing, stale], cfg)
    assert state == {"kiln1": False, "caster1.crucible": False, "caster1.io": True,
                     "caster1.crucible_tc": False, "caster1.drive": False}  # fmt: skip


def test_a_record_says_passed_only_when_every_check_passed(tmp_path) -> None:
    good = record(SITE, tmp_path, "caster1.io")
    fields = good.model_dump() | {"passed": False}
    with pytest.raises(ValidationError, match="passed must say whether every check passed"):
        Commissioning.model_validate(fields)
    assert good.record_id == f"20261207T180000.000000Z-{good.config_digest[:16]}"
    assert Commissioning.from_predicate(good.predicate()) == good


async def test_signed_records_read_back_and_the_ledger_audits(tmp_path) -> None:
    key = tmp_path / "log.key"
    keys.generate(key, "t.example/ledger/v1")
    text = SITE + f'[ledger]\norigin = "t.example/ledger/v1"\nkey_files = ["{key}"]\n'
    text = text.replace('[lab]\nname = "t"', f'[lab]\nname = "t"\nstate_dir = "{tmp_path}"')
    cfg = site(tmp_path, text)
    first, second = record(text, tmp_path, "caster1.io"), record(text, tmp_path, "kiln1")
    await sign(cfg, first)
    await sign(cfg, second)
    service = await LedgerService.open(
        tmp_path / "ledger.sqlite", origin="t.example/ledger/v1", key_files=[key]
    )
    try:
        held: list[Record] = list(await commissioning_records(service))
        report = await audit(service.ledger)
    finally:
        await service.close()
    assert held == [second, first]  # newest first
    assert report.ok and report.entries == 2
