"""When ``labctl commission`` refuses to start, and the command's own exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.commission.cli import EXIT_FAILED, EXIT_USAGE, run_commission
from labctl.commission.preflight import refusal
from labctl.commission.record import resolve
from labctl.config.users import Role
from labctl.daemon.control_socket import ControlSocket
from labctl.runs.state import OutcomeKind
from labctl.runs.store import RunStore
from tests.labctl.commission.support import SITE, site


@contextlib.asynccontextmanager
async def daemon(state: Path) -> AsyncIterator[None]:
    """A daemon's control socket in ``state`` that answers ``status``."""
    registry = CommandRegistry()

    async def status(_: Payload, __: Caller) -> dict[str, object]:
        return {"kilns": []}

    registry.register("status", Payload, Role.OBSERVER, status, "state")
    socket = ControlSocket(state / "labctl.sock", registry)
    await socket.start()
    try:
        yield
    finally:
        await socket.close()


def in_state(tmp: Path, extra: str = "") -> str:
    return SITE.replace('[lab]\nname = "t"', f'[lab]\nname = "t"\nstate_dir = "{tmp}"') + extra


async def test_nothing_running_nothing_refused(tmp_path) -> None:
    cfg = site(tmp_path, in_state(tmp_path))
    assert await refusal(cfg, resolve(cfg, "kiln1")) is None


async def test_a_running_daemon_refuses(tmp_path) -> None:
    cfg = site(tmp_path, in_state(tmp_path))
    async with daemon(tmp_path):
        why = await refusal(cfg, resolve(cfg, "caster1.io"))
    assert why is not None and "daemon is running" in why and "caster1.io" in why
    assert await refusal(cfg, resolve(cfg, "caster1.io")) is None  # its socket is gone


async def test_a_stored_active_run_of_the_machine_refuses(tmp_path) -> None:
    cfg = site(tmp_path, in_state(tmp_path))
    store = await RunStore.open(tmp_path / "runs.sqlite")
    try:
        run = await store.create_run(
            kiln="caster1", profile_name="gold-18k", profile_json="{}", mode="vacuum",
            started_by="tech", state_json="{}", at_wall=1.0,
        )  # fmt: skip
        why = await refusal(cfg, resolve(cfg, "caster1.drive"))
        assert why is not None and f"run {run} (gold-18k)" in why
        assert await refusal(cfg, resolve(cfg, "kiln1")) is None  # another machine
        await store.end_run(
            run, outcome_kind=OutcomeKind.ABORTED, reason="", by="tech", at_wall=2.0
        )
        assert await refusal(cfg, resolve(cfg, "caster1.drive")) is None
    finally:
        await store.close()


async def test_bad_names_and_a_site_without_ledger_are_usage_errors(tmp_path, capsys) -> None:
    path = tmp_path / "site.toml"
    path.write_text(in_state(tmp_path))
    assert await run_commission(path, "kiln9", lease_wait_s=1.0) == EXIT_USAGE
    assert "no device 'kiln9'" in capsys.readouterr().err
    assert await run_commission(path, "kiln1", lease_wait_s=1.0) == EXIT_USAGE
    assert "no [ledger]" in capsys.readouterr().err


async def test_with_the_daemon_running_the_command_fails_before_touching_anything(
    tmp_path, capsys
) -> None:
    key = tmp_path / "log.key"
    path = tmp_path / "site.toml"
    path.write_text(
        in_state(tmp_path, f'[ledger]\norigin = "t.example/v1"\nkey_files = ["{key}"]\n')
    )
    async with daemon(tmp_path):
        assert await run_commission(path, "kiln1", lease_wait_s=1.0) == EXIT_FAILED
    assert "refused: the labctl daemon is running" in capsys.readouterr().err
    assert not (tmp_path / "ledger.sqlite").exists()
