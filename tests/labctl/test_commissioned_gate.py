"""The commissioning gate: a streamed machine runs only on devices with a passing record.

Sites are built with :func:`labctl.daemon.app.build_lab` (nothing connects to a device) and a real
ledger holding the commissioning records; the daemon's entry point refuses the site that is
not commissioned, naming the machine, the device and the command to run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers._sim.caster_rig import CasterEndpoints
from drivers._sim.server import Endpoint
from drivers.clock import ScaledClock
from labctl import cli
from labctl.alarms import AlarmBoard
from labctl.commands.registry import Caller, CommandRefused
from labctl.commission.gate import NotCommissioned
from labctl.commission.record import Commissioning, DeviceCheck, device_digest
from labctl.config.limits import CasterKind
from labctl.config.site import SiteConfig, load_site
from labctl.config.users import Role
from labctl.daemon.app import Lab, build_lab
from labctl.daemon.run import run_daemon_from_config
from labctl.errors import ConfigError
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger import keys
from labctl.ledger.service import LedgerService
from labctl.sim.site import rig_site
from labctl.telemetry.snapshots import PointMaker
from tests._support.lab import lab_of
from tests._support.lab_commands import PAYLOADS

ORIGIN = "gate.labctl.invalid/ledger/v1"
SUPER = Caller("sue", Role.SUPERVISOR)


@dataclass
class Site:
    """A site file with one kiln ``k1`` (controller ``tc1``) and a ledger."""

    dir: Path
    mode: str = "stream"
    allow: tuple[str, ...] = ()
    fallback_sp_c: float = 0.0

    @property
    def file(self) -> Path:
        return self.dir / "site.toml"

    def write(self) -> SiteConfig:
        key = self.dir / "log.key"
        if not key.exists():
            keys.generate(key, ORIGIN)
        (self.dir / "profiles").mkdir(exist_ok=True)
        self.file.write_text(
            f'[lab]\nname = "t"\nstate_dir = "{self.dir / "state"}"\n'
            f'profiles_dir = "{self.dir / "profiles"}"\n'
            f"allow_uncommissioned = {list(self.allow)!r}\n".replace("'", '"')
            + '[buses.a]\nkind = "tcp"\nhost = "127.0.0.1"\nport = 5020\n'
            + '[devices.tc1]\nfamily = "eurotherm3200"\nbus = "a"\n'
            + f'[kilns.k1]\ncontroller = "tc1"\nmode = "{self.mode}"\nmax_temp_c = 800\n'
            + f"fallback_sp_c = {self.fallback_sp_c}\n"
            + f'[ledger]\norigin = "{ORIGIN}"\nkey_files = ["{key}"]\n'
        )
        return load_site(self.file)

    async def sign(self, site: SiteConfig, *, passed: bool = True, who: str = "sue") -> None:
        """A commissioning record of ``k1`` for ``site``'s config, signed into the ledger."""
        check = DeviceCheck(name="identity", passed=passed, detail="3216 at unit 1")
        record = Commissioning(
            device="k1",
            family="eurotherm3200",
            identity={"model": "3216"},
            firmware=None,
            config_digest=device_digest(site, "k1"),
            checks=[check],
            passed=passed,
            at=datetime.now(UTC),
            who=who,
        )
        (self.dir / "state").mkdir(exist_ok=True)
        service = await LedgerService.open(
            self.dir / "state" / "ledger.sqlite", origin=ORIGIN, key_files=[self.dir / "log.key"]
        )
        try:
            await service.record(record)
        finally:
            await service.close()


async def _build(site: SiteConfig, file: Path | None = None) -> Lab:
    return await build_lab(site, ScaledClock(1.0), site_file=file)


@pytest.fixture
async def built() -> AsyncIterator[list[Lab]]:
    """Labs built by a test, closed at its end."""
    labs: list[Lab] = []
    yield labs
    for lab in labs:
        if lab.recorder is not None:
            await lab.recorder.service.close()
        await lab.store.close()


async def _status(lab: Lab) -> Mapping[str, object]:
    return await lab.registry.dispatch("status", {}, SUPER)


def _standing(board: AlarmBoard, source: str) -> list[dict[str, object]]:
    return [a for a in board.as_json() if a["source"] == source]


# ------------------------------------------------------------------------ the setting


@pytest.mark.parametrize(
    ("allow", "mode", "problem"),
    [
        (("k9",), "stream", "no kiln or caster named 'k9'"),
        (("k1",), "programmer", "runs its program in the controller"),
    ],
)
def test_the_setting_names_streamed_machines_of_the_site(
    tmp_path: Path, allow: tuple[str, ...], mode: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as err:
        Site(tmp_path, mode=mode, allow=allow).write()
    assert err.value.field == "lab.allow_uncommissioned"


# ------------------------------------------------------------------------ start-up


async def test_the_daemon_refuses_a_streamed_kiln_without_a_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site(tmp_path)
    site.write()
    with caplog.at_level(logging.ERROR):
        assert await run_daemon_from_config(site.file) == 2
    said = caplog.text
    assert "not starting" in said and "lab.allow_uncommissioned" in said
    assert "(k1: k1)" in said  # the machine and its device
    assert f"labctl commission --config {site.file} k1" in said


async def test_a_failed_or_stale_record_does_not_commission(tmp_path: Path) -> None:
    site = Site(tmp_path)
    await site.sign(site.write(), passed=False)
    with pytest.raises(NotCommissioned, match="k1: k1"):
        await _build(site.write())
    await site.sign(Site(tmp_path, fallback_sp_c=50.0).write())  # passed, for another config
    with pytest.raises(NotCommissioned, match="k1: k1"):
        await _build(site.write())


async def test_a_passing_record_for_this_config_commissions(
    tmp_path: Path, built: list[Lab]
) -> None:
    site = Site(tmp_path)
    await site.sign(site.write())
    lab = await _build(site.write())
    built.append(lab)
    kiln = (await _status(lab))["kilns"]
    assert isinstance(kiln, list)
    assert (kiln[0]["commissioned"], kiln[0]["uncommissioned"]) == (True, ())
    assert lab.board.as_json() == []


async def test_an_allowed_kiln_runs_under_a_standing_alarm(
    tmp_path: Path, built: list[Lab], caplog: pytest.LogCaptureFixture
) -> None:
    site = Site(tmp_path, allow=("k1",))
    with caplog.at_level(logging.WARNING):
        lab = await _build(site.write(), site.file)
    built.append(lab)
    assert "k1 runs NOT commissioned" in caplog.text
    assert f"labctl commission --config {site.file} DEVICE" in caplog.text
    kiln = (await _status(lab))["kilns"]
    assert isinstance(kiln, list)
    assert (kiln[0]["commissioned"], kiln[0]["uncommissioned"]) == (False, ("k1",))
    [alarm] = _standing(lab.board, "k1.commissioning")
    assert alarm["active"]
    assert alarm["text"] == "not commissioned: controller (allowed by [lab] allow_uncommissioned)"
    assert _standing(lab.board, "k1") == []  # a run's alarms keep their own source

    await lab.registry.dispatch("alarm_ack", {"id": alarm["id"]}, SUPER)
    [acked] = _standing(lab.board, "k1.commissioning")
    assert acked["active"] and acked["acked_by"] == "sue"  # acknowledged, still standing


async def test_a_record_signed_while_running_clears_the_alarm(
    tmp_path: Path, built: list[Lab]
) -> None:
    site = Site(tmp_path, allow=("k1",))
    config = site.write()
    lab = await _build(config)
    built.append(lab)
    assert lab.recorder is not None
    await lab.recorder.service.record(
        Commissioning(
            device="k1", family="eurotherm3200", identity={}, firmware="1.07",
            config_digest=device_digest(config, "k1"), checks=[
                DeviceCheck(name="lease", passed=True, detail="fell back after 10 s")
            ], passed=True, at=datetime.now(UTC), who="sue",
        )
    )  # fmt: skip
    rows = (await lab.registry.dispatch("commissioning", {}, SUPER))["devices"]
    assert isinstance(rows, list)
    [row] = rows
    assert row["device"] == "k1" and row["commissioned"] is True
    assert row["last"]["passed"] and row["last"]["who"] == "sue" and row["last"]["current"]
    [alarm] = _standing(lab.board, "k1.commissioning")
    assert not alarm["active"]
    assert lab.runners["k1"].snapshot.commissioned


async def test_the_query_shows_the_last_record_and_whether_it_is_current(
    tmp_path: Path, built: list[Lab]
) -> None:
    site = Site(tmp_path, allow=("k1",))
    await site.sign(Site(tmp_path, fallback_sp_c=50.0).write(), who="ann")  # another config
    await site.sign(site.write(), passed=False, who="bob")
    lab = await _build(site.write())
    built.append(lab)
    rows = (await lab.registry.dispatch("commissioning", {}, SUPER))["devices"]
    assert isinstance(rows, list)
    [row] = rows
    assert (row["machine"], row["role"], row["config_name"]) == ("k1", "controller", "tc1")
    assert (row["streamed"], row["allowed_uncommissioned"], row["commissioned"]) == (
        True,
        True,
        False,
    )
    assert row["last"]["who"] == "bob" and not row["last"]["passed"]
    assert row["last"]["failed"] == ["identity"] and row["last"]["current"]


async def test_a_programmer_kiln_needs_no_record_but_shows_it(
    tmp_path: Path, built: list[Lab]
) -> None:
    lab = await _build(Site(tmp_path, mode="programmer").write())
    built.append(lab)
    assert lab.runners["k1"].snapshot.uncommissioned == ("k1",)
    assert lab.board.as_json() == []  # no alarm: the program runs inside the controller


# ------------------------------------------------------------------------ casters


async def test_a_rig_runs_its_simulated_caster_and_kiln_under_standing_alarms(
    tmp_path: Path, built: list[Lab]
) -> None:
    # where the simulated devices would be served (nothing is: building connects to nothing)
    ports = CasterEndpoints("vacuum", Endpoint(5021), Endpoint(5022), tmp_path / "tc", tmp_path)
    text = rig_site(
        state=tmp_path / "state", profiles=tmp_path, speed=1.0, epoch=0.0, tick_s=1.0,
        kiln_port=5020, caster=ports,
    )  # fmt: skip
    (tmp_path / "site.toml").write_text(text)
    site = load_site(tmp_path / "site.toml")
    assert site.lab.allow_uncommissioned == ("kiln1", "caster1")
    lab = await _build(site)
    built.append(lab)
    caster = lab.casters["caster1"].snapshot.as_dict()
    assert caster["commissioned"] is False
    assert caster["uncommissioned"] == ["caster1.crucible", "caster1.io", "caster1.crucible_tc",
                                        "caster1.gauge"]  # fmt: skip
    assert [a["source"] for a in lab.board.as_json()] == [
        "caster1.commissioning",
        "kiln1.commissioning",
    ]  # newest first; neither is the machine's own source, which a cast's faults use
    strict = rig_site(
        state=tmp_path / "state", profiles=tmp_path, speed=1.0, epoch=0.0, tick_s=1.0,
        kiln_port=5020, caster=ports, allow_uncommissioned=False,
    )  # fmt: skip
    (tmp_path / "strict.toml").write_text(strict)
    with pytest.raises(NotCommissioned, match=r"kiln1: kiln1; caster1: caster1\.crucible"):
        await _build(load_site(tmp_path / "strict.toml"))


# ------------------------------------------------------------------------ shown everywhere


def test_telemetry_carries_commissioned_for_grafana() -> None:
    maker = PointMaker(lab="lab1")
    snap = KilnSnapshot(kiln="k1", at=0, wall=1.0, link="ok", state="idle", uncommissioned=("k1",))
    point, _ = maker.kiln(snap)
    assert dict(point.fields)["commissioned"] == 0
    status = {"caster": "c1", "state": "idle", "commissioned": True}
    assert dict(maker.caster(status, 1.0)[0].fields)["commissioned"] == 1


def test_a_standing_condition_with_a_new_text_replaces_its_alarm() -> None:
    board = AlarmBoard(lambda: 0.0)
    board.condition("k1.commissioning", True, "not commissioned: a, b")
    board.condition("k1.commissioning", True, "not commissioned: a, b")  # unchanged: no repeat
    board.condition("k1.commissioning", True, "not commissioned: b")
    assert [(a["text"], a["active"]) for a in board.as_json()] == [
        ("not commissioned: b", True),
        ("not commissioned: a, b", False),
    ]
    board.condition("k1.commissioning", False, "")
    assert not any(a["active"] for a in board.as_json())


# ------------------------------------------------------------------------ commissioning


async def test_commissioning_from_the_daemon_needs_an_idle_machine_and_a_device(
    tmp_path: Path, built: list[Lab]
) -> None:
    lab = await _build(Site(tmp_path, allow=("k1",)).write())
    built.append(lab)
    with pytest.raises(CommandRefused, match="no device 'k9' in this site"):
        await lab.registry.dispatch("commission", {"device": "k9"}, SUPER)
    runner = lab.runners["k1"]
    runner.snapshot = dataclasses.replace(runner.snapshot, run_id=5)  # a run in progress
    with pytest.raises(CommandRefused, match="k1 runs run 5: commission it when it is idle"):
        await lab.registry.dispatch("commission", {"device": "tc1"}, SUPER)  # its [devices] name
    with pytest.raises(CommandRefused, match="needs a supervisor"):
        await lab.registry.dispatch("commission", {"device": "k1"}, Caller("ann", Role.TECHNICIAN))


async def test_a_paused_loop_leaves_its_devices_alone_and_refuses_commands(tmp_path: Path) -> None:
    """What a commissioning job holds the machine in: ticks counted, nothing read, commands
    refused with the reason; afterwards the loop reads and takes commands again."""
    async with lab_of(tmp_path, caster_kind=CasterKind.VACUUM) as lab:
        await lab.ticks(2)
        pause = lab.kiln.paused("k1 is being commissioned by sue")
        await lab.drive(pause.__aenter__())
        read_at, ticks = lab.kiln.snapshot.at, lab.kiln.ticks
        await lab.ticks(3)
        assert lab.kiln.ticks >= ticks + 3  # alive, as the watchdog counts
        assert lab.kiln.snapshot.at == read_at  # no tick ran: nothing read, nothing published
        refused = await lab.command("start", PAYLOADS["start"](lab), Role.TECHNICIAN)
        assert (refused.done, refused.text) == (False, "k1: k1 is being commissioned by sue")
        await pause.__aexit__(None, None, None)
        await lab.ticks(2)
        assert lab.kiln.snapshot.at > read_at
        assert (await lab.command("start", PAYLOADS["start"](lab), Role.TECHNICIAN)).done


def test_labctl_status_says_not_commissioned() -> None:
    snap = KilnSnapshot(kiln="k1", at=0, wall=1.0, link="ok", state="idle", uncommissioned=("k1",))
    assert cli._status_line(snap.as_dict()).endswith(" | NOT COMMISSIONED: k1")
    caster = {"caster": "c1", "kind": "vacuum", "state": "idle", "commissioned": True}
    assert "COMMISSIONED" not in cli._caster_line(caster | {"uncommissioned": []})
    gone = caster | {"commissioned": False, "uncommissioned": ["c1.io", "c1.gauge"]}
    assert cli._caster_line(gone).endswith(" | NOT COMMISSIONED: c1.io, c1.gauge")
