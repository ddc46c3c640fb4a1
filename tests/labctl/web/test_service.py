"""The touchscreen service keeps its wrong-PIN locks in the site's state_dir."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

import pytest

from labctl.alarms import AlarmBoard
from labctl.commands.registry import CommandRegistry
from labctl.config.ui import UiSection
from labctl.config.users import UserSection
from labctl.kiln.runner import KilnRunner
from labctl.runs.store import RunStore
from labctl.web.pins import hash_pin
from labctl.web.service import LOCKOUT_FILE, Touchscreen
from labctl.web.signin import FREE_ATTEMPTS, SignInRefused

USERS = {"ana": UserSection(role="technician", badge="1001", pin_hash=hash_pin("2468", n=2**4))}


def touchscreen(users: Mapping[str, UserSection], store: RunStore, state: Path) -> Touchscreen:
    kilns = cast(Mapping[str, KilnRunner], {})
    board = AlarmBoard(lambda: 1e9)
    return Touchscreen(
        UiSection(port=0), "lab", users, CommandRegistry(), kilns, {}, board, store, state
    )


async def test_a_restarted_touchscreen_keeps_the_locks(tmp_path: Path) -> None:
    store = await RunStore.open(tmp_path / "runs.sqlite")
    try:
        first = touchscreen(USERS, store, tmp_path)
        lockout = first.lockout
        for _ in range(FREE_ATTEMPTS + 1):
            lockout.acquire("1001", None)
            lockout.release("1001")
        await lockout.save()
        assert (tmp_path / LOCKOUT_FILE).exists()
        again = touchscreen(USERS, store, tmp_path)  # the daemon restarted
        with pytest.raises(SignInRefused) as refused:
            again.lockout.acquire("1001", None)
        assert refused.value.retry_after_s == 2
    finally:
        await store.close()
