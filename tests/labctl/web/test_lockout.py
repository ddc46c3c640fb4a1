"""The wrong-PIN throttle holds: charged before the check, one check per badge, per badge on
the kiosk, kept across restarts, safe with a damaged file (issue 11, "Sign-in that holds").

Time is the fake clock of conftest.py (both the sessions' and the lockout's clock).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from labctl.web.lockout import MAX_LOCK_S, Lockout
from labctl.web.pins import verify_pin
from labctl.web.signin import FREE_ATTEMPTS, Sessions, SignInRefused

if TYPE_CHECKING:
    from tests.labctl.web.conftest import FakeClock

KIOSK = "127.0.0.1"
CHECK = "labctl.web.signin.verify_pin"  # the PIN check, as sign-in calls it


def reopened(sessions: Sessions, path: Path, clock: FakeClock) -> Sessions:
    """The same people after a daemon restart: a new Sessions reading the same file."""
    return Sessions(sessions.users, sessions.idle_s, now=clock, lockout=Lockout(path, clock=clock))


async def outcome(sessions: Sessions, badge: str, pin: str, client: str = KIOSK) -> str:
    try:
        _, session = await sessions.sign_in(badge, pin, client)
    except SignInRefused as refused:
        return refused.reason
    return f"signed in: {session.caller.name}"


async def test_a_burst_gets_one_check_and_the_right_pin_at_its_end_is_refused(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real = verify_pin

    def counted(pin: str, stored: str) -> bool:
        checks.append(pin)
        return real(pin, stored)

    monkeypatch.setattr(CHECK, counted)
    burst = [outcome(sessions, "1001", f"{i:04d}") for i in range(60)]
    answers = await asyncio.gather(*burst, outcome(sessions, "1001", "2468"))
    assert len(checks) == 1, f"{len(checks)} PINs checked at once"
    assert answers[0] == "wrong badge or PIN"
    assert set(answers[1:]) == {"a sign-in for badge 1001 is being checked"}


async def test_at_the_kiosk_one_persons_wrong_pins_lock_only_their_badge(
    sessions: Sessions,
) -> None:
    for _ in range(5):
        await outcome(sessions, "1001", "0000")
    assert "too many wrong PINs" in await outcome(sessions, "1001", "2468")
    assert await outcome(sessions, "2002", "1357") == "signed in: ben"


async def test_the_charge_is_on_disk_before_the_pin_is_checked(
    sessions: Sessions, lockout_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(FREE_ATTEMPTS):
        await outcome(sessions, "1001", "0000")
    started, finish = threading.Event(), threading.Event()

    def slow(pin: str, stored: str) -> bool:
        started.set()
        finish.wait(10)
        return False

    monkeypatch.setattr(CHECK, slow)
    attempt = asyncio.create_task(outcome(sessions, "1001", "2222"))
    assert await asyncio.to_thread(started.wait, 10)
    # the daemon dies here, mid-check: after the restart the attempt still counts
    after = reopened(sessions, lockout_file, clock)
    assert after.lockout.seconds_locked("badge:1001") == 2
    finish.set()
    assert await attempt == "wrong badge or PIN"


async def test_locks_survive_a_restart_with_the_seconds_remaining(
    sessions: Sessions, lockout_file: Path, clock: FakeClock, advance: Callable[[float], None]
) -> None:
    for _ in range(FREE_ATTEMPTS + 3):  # the last lock: 8 s
        await outcome(sessions, "1001", "0000")
        advance(MAX_LOCK_S)
    await outcome(sessions, "1001", "0000")
    advance(3.0)
    after = reopened(sessions, lockout_file, clock)
    assert await outcome(after, "1001", "2468") == "too many wrong PINs; try again in 13 s"
    assert await outcome(after, "2002", "1357") == "signed in: ben"
    advance(13.0)
    assert await outcome(after, "1001", "2468") == "signed in: ana"
    assert (
        json.loads(await asyncio.to_thread(lockout_file.read_text))["records"] == {}
    )  # the right PIN cleared it


async def test_a_wall_clock_set_back_never_lengthens_a_lock_beyond_the_cap(
    sessions: Sessions, lockout_file: Path, clock: FakeClock
) -> None:
    for _ in range(FREE_ATTEMPTS + 1):
        await outcome(sessions, "1001", "0000")
    clock.t -= 3 * 86_400.0  # NTP corrects a clock that ran days fast
    after = reopened(sessions, lockout_file, clock)
    assert after.lockout.seconds_locked("badge:1001") == MAX_LOCK_S


@pytest.mark.parametrize(
    "damage", [b"{not json", b"[" * 5000, b'{"version": 1}', b'{"version": 1, "floor_until": 0, '
    b'"records": {"badge:1": [1, "x", 0]}}', b"\xff\xfe"]
)  # fmt: skip
async def test_an_unreadable_file_keeps_every_badge_at_the_longest_lock(
    sessions: Sessions,
    lockout_file: Path,
    clock: FakeClock,
    damage: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await asyncio.to_thread(lockout_file.write_bytes, damage)
    with caplog.at_level(logging.ERROR):
        after = reopened(sessions, lockout_file, clock)
    assert "unreadable" in caplog.text
    assert lockout_file.with_name(lockout_file.name + ".corrupt").read_bytes() == damage
    assert await outcome(after, "2002", "1357") == "signed in: ben"  # the right PIN: at once
    assert await outcome(after, "1001", "0000") == "wrong badge or PIN"
    assert after.lockout.seconds_locked("badge:1001") == MAX_LOCK_S  # one wrong: the cap
    again = reopened(after, lockout_file, clock)  # and so after another restart
    assert again.lockout.seconds_locked("badge:1001") == MAX_LOCK_S
    assert await outcome(again, "3003", "0000") == "wrong badge or PIN"
    assert again.lockout.seconds_locked("badge:3003") == MAX_LOCK_S


async def test_a_file_that_cannot_be_written_is_logged_once_and_the_lock_holds(
    tmp_path: Path, clock: FakeClock, sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "no" / "such" / "dir" / "lockout.json"
    broken = Sessions(
        sessions.users, sessions.idle_s, now=clock, lockout=Lockout(gone, clock=clock)
    )
    with caplog.at_level(logging.ERROR):
        for _ in range(FREE_ATTEMPTS + 1):
            assert await outcome(broken, "1001", "0000") == "wrong badge or PIN"
    assert caplog.text.count("not written") == 1
    assert "too many wrong PINs" in await outcome(broken, "1001", "2468")
    assert await outcome(broken, "2002", "1357") == "signed in: ben"


async def test_a_cancelled_check_frees_the_badge_and_keeps_the_charge(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, finish = threading.Event(), threading.Event()

    def slow(pin: str, stored: str) -> bool:
        started.set()
        finish.wait(10)
        return True

    monkeypatch.setattr(CHECK, slow)
    attempt = asyncio.create_task(outcome(sessions, "1001", "2468"))
    assert await asyncio.to_thread(started.wait, 10)
    attempt.cancel()
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    assert sessions.lockout._records["badge:1001"].count == 1
    monkeypatch.undo()
    assert await outcome(sessions, "1001", "2468") == "signed in: ana"
