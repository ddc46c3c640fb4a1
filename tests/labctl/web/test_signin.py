"""Touchscreen sessions: badge + PIN sign-in, the wrong-PIN throttle, idle sign-out.

Time is a fake monotonic clock passed as ``now``; nothing here sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from labctl.config.users import Role, UserSection
from labctl.web.lockout import ADDRESS_FREE
from labctl.web.signin import FREE_ATTEMPTS, MAX_LOCK_S, Sessions, SignInRefused

KIOSK = "127.0.0.1"


async def refused(sessions: Sessions, badge: str, pin: str, client: str) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        await sessions.sign_in(badge, pin, client)
    return caught.value


async def test_right_pin_gives_a_session_with_the_role(sessions: Sessions) -> None:
    token, session = await sessions.sign_in("2002", "1357", KIOSK)
    assert session.caller.name == "ben" and session.caller.role is Role.SUPERVISOR
    assert session.as_json() == {"name": "ben", "badge": "2002", "role": "supervisor"}
    assert sessions.get(token) is session
    other_token, other = await sessions.sign_in("1001", "2468", KIOSK)
    assert other.caller.role is Role.TECHNICIAN
    assert len({token, other_token, session.csrf, other.csrf}) == 4  # all distinct secrets
    assert len(token) >= 32 and len(session.csrf) >= 32


@pytest.mark.parametrize(
    ("badge", "pin"),
    [("1001", "1357"), ("1001", "24680"), ("9999", "2468"), ("", "2468"), ("1001", "")],
)
async def test_wrong_badge_or_pin_gets_one_message(
    sessions: Sessions, badge: str, pin: str
) -> None:
    refusal = await refused(sessions, badge, pin, KIOSK)
    assert refusal.reason == "wrong badge or PIN"
    assert refusal.retry_after_s is None


async def test_a_user_without_a_badge_cannot_sign_in() -> None:
    """(With the default dummy hash, checked at the real cost.)"""
    sessions = Sessions({"bot": UserSection(role="supervisor")}, idle_s=60)
    assert (await refused(sessions, "", "000000", KIOSK)).reason == "wrong badge or PIN"


async def lock_badge(sessions: Sessions, badge: str, clients: list[str]) -> None:
    """One wrong PIN for ``badge`` from each of ``clients`` (none of them refused for speed)."""
    for client in clients:
        refusal = await refused(sessions, badge, "0000", client)
        assert refusal.retry_after_s is None, refusal.reason


async def test_wrong_pins_beyond_the_free_ones_lock_the_badge_even_for_the_right_pin(
    sessions: Sessions, advance: Callable[[float], None]
) -> None:
    # spread over clients, so only the badge's own count matters here
    await lock_badge(sessions, "1001", [f"10.0.0.{i}" for i in range(FREE_ATTEMPTS + 1)])
    refusal = await refused(sessions, "1001", "2468", "10.0.1.1")  # the RIGHT PIN
    assert refusal.retry_after_s is not None and refusal.retry_after_s >= 1
    assert f"try again in {refusal.retry_after_s:.0f} s" in refusal.reason
    assert "too many wrong PINs" in refusal.reason
    await sessions.sign_in("2002", "1357", "10.0.1.1")  # another badge is not locked
    advance(refusal.retry_after_s)
    _, session = await sessions.sign_in("1001", "2468", "10.0.1.1")
    assert session.caller.name == "ana"


async def test_the_wait_in_words_is_the_wait_in_seconds(
    sessions: Sessions, advance: Callable[[float], None]
) -> None:
    await lock_badge(sessions, "1001", [f"10.0.0.{i}" for i in range(FREE_ATTEMPTS + 1)])
    first = await refused(sessions, "1001", "2468", "10.0.1.1")
    assert first.retry_after_s is not None
    advance(first.retry_after_s - 0.4)
    later = await refused(sessions, "1001", "2468", "10.0.1.1")
    assert later.retry_after_s is not None and later.retry_after_s >= 1
    assert f"try again in {later.retry_after_s:.0f} s" in later.reason


async def test_free_attempts_are_not_slowed(sessions: Sessions) -> None:
    await lock_badge(sessions, "1001", [KIOSK] * FREE_ATTEMPTS)
    _, session = await sessions.sign_in("1001", "2468", KIOSK)
    assert session.badge == "1001"


async def test_each_lock_doubles_up_to_the_cap(
    sessions: Sessions, advance: Callable[[float], None]
) -> None:
    await lock_badge(sessions, "1001", [f"10.0.0.{i}" for i in range(FREE_ATTEMPTS)])
    locks: list[float] = []
    for i in range(12):
        await refused(sessions, "1001", "0000", f"10.0.2.{i}")  # checked: the lock has passed
        refusal = await refused(sessions, "1001", "2468", f"10.0.3.{i}")
        assert refusal.retry_after_s is not None
        locks.append(refusal.retry_after_s)
        advance(refusal.retry_after_s - 1.0)
        assert (await refused(sessions, "1001", "2468", "10.0.4.1")).retry_after_s is not None
        advance(1.0)
    assert locks[0] <= 4
    for before, after in itertools.pairwise(locks):
        assert after == pytest.approx(min(2 * before, MAX_LOCK_S), abs=1)
    assert locks[-1] == pytest.approx(MAX_LOCK_S, abs=1)


async def test_a_remote_client_is_slowed_across_badges_after_many_wrong_pins(
    sessions: Sessions,
) -> None:
    """Against one address trying one PIN on many badges; generous, so typos never reach it."""
    for i in range(ADDRESS_FREE):
        await refused(sessions, f"9{i:03d}", "0000", "10.9.9.9")  # each badge once: no lock
    await refused(sessions, "8888", "0000", "10.9.9.9")  # one over: the address is locked
    refusal = await refused(sessions, "2002", "1357", "10.9.9.9")  # right PIN, fresh badge
    assert refusal.retry_after_s is not None
    assert "from this address" in refusal.reason
    _, session = await sessions.sign_in("2002", "1357", "10.9.9.8")  # another client is not
    assert session.caller.name == "ben"


async def test_a_right_pin_clears_the_badge_count(sessions: Sessions) -> None:
    await lock_badge(sessions, "1001", [f"10.0.0.{i}" for i in range(FREE_ATTEMPTS)])
    await sessions.sign_in("1001", "2468", "10.0.1.0")
    await lock_badge(sessions, "1001", [f"10.0.2.{i}" for i in range(FREE_ATTEMPTS)])
    _, session = await sessions.sign_in("1001", "2468", "10.0.3.0")
    assert session.caller.name == "ana"


async def test_occasional_typos_at_the_kiosk_never_lock_it(
    sessions: Sessions, advance: Callable[[float], None]
) -> None:
    for day in range(FREE_ATTEMPTS + 3):
        advance(3600.0)
        badge, pin = ("1001", "2468") if day % 2 else ("2002", "1357")
        await refused(sessions, badge, "0000", KIOSK)  # one typo...
        await sessions.sign_in(badge, pin, KIOSK)  # ...then the right PIN, at once


async def test_idle_sessions_expire(sessions: Sessions, advance: Callable[[float], None]) -> None:
    token, session = await sessions.sign_in("1001", "2468", KIOSK)
    advance(sessions.idle_s - 1)
    assert sessions.get(token) is session  # touched: alive for another idle_s
    advance(sessions.idle_s - 1)
    assert sessions.get(token, touch=False) is session  # looked at, not touched
    advance(2)
    assert sessions.get(token) is None
    advance(-10)  # gone for good, not merely stale
    assert sessions.get(token) is None


async def test_each_sign_in_forgets_the_sessions_that_went_idle(
    sessions: Sessions, advance: Callable[[float], None]
) -> None:
    stale, _ = await sessions.sign_in("1001", "2468", KIOSK)
    advance(sessions.idle_s / 2)
    recent, _ = await sessions.sign_in("2002", "1357", KIOSK)
    advance(sessions.idle_s / 2 + 1)  # ``stale`` is idle past the limit, ``recent`` is not
    await sessions.sign_in("1001", "2468", KIOSK)
    advance(-(sessions.idle_s / 2 + 1))  # back to when a stale session kept would look fresh
    assert sessions.get(stale, touch=False) is None  # forgotten, not merely stale
    assert sessions.get(recent, touch=False) is not None


async def test_sign_out_ends_only_that_session(sessions: Sessions) -> None:
    token, _ = await sessions.sign_in("1001", "2468", KIOSK)
    other, _ = await sessions.sign_in("2002", "1357", KIOSK)
    sessions.sign_out(token)
    assert sessions.get(token) is None
    assert sessions.get(other) is not None
    sessions.sign_out(token)  # twice, or without a cookie: no error
    sessions.sign_out(None)
    assert sessions.get(None) is None
    assert sessions.get("made-up") is None


def test_anonymous_caller_may_only_observe() -> None:
    assert Sessions.anonymous().role is Role.OBSERVER
