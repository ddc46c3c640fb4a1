"""Touchscreen sessions: badge + PIN sign-in, slowed after wrong PINs, signed out when idle."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from labctl.commands import Caller, Role
from labctl.telemetry_config import UserSection
from labctl.web.pins import hash_pin, verify_pin

log = logging.getLogger(__name__)

FREE_ATTEMPTS = 3  # wrong PINs before each further attempt has to wait
MAX_LOCK_S = 300.0


class SignInRefused(Exception):
    """Sign-in not granted; ``retry_after_s`` is set while attempts are being slowed."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after_s = reason, retry_after_s


@dataclass
class Session:
    """One signed-in person at one browser."""

    caller: Caller
    badge: str
    csrf: str
    last_seen: float

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.caller.name,
            "badge": self.badge,
            "role": self.caller.role.name.lower(),
        }


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class Sessions:
    """Sessions by token, the badge directory, and the wrong-PIN throttle.

    Wrong PINs are counted per badge and per client address; after :data:`FREE_ATTEMPTS` each
    further wrong PIN locks that badge and that address for twice as long as the last time
    (2 s, 4 s, ... up to :data:`MAX_LOCK_S`). A right PIN clears the badge's count.
    """

    users: Mapping[str, UserSection]
    idle_s: float
    now: Callable[[], float] = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _dummy: str = field(default_factory=lambda: hash_pin("000000"))

    async def sign_in(self, badge: str, pin: str, client: str) -> tuple[str, Session]:
        """A new session token for the holder of ``badge``, or SignInRefused with the reason."""
        now = self.now()
        keys = (f"badge:{badge}", f"client:{client}")
        wait = max(self._failures.get(k, _Failures()).locked_until for k in keys) - now
        if wait > 0:
            seconds = math.ceil(wait)
            raise SignInRefused(
                f"too many wrong PINs; try again in {seconds} s", retry_after_s=seconds
            )
        found = [(n, u) for n, u in self.users.items() if u.badge == badge and u.pin_hash]
        stored = found[0][1].pin_hash if found else self._dummy
        assert stored is not None
        ok = await asyncio.to_thread(verify_pin, pin, stored)  # ~50 ms of scrypt, off the loop
        if not (found and ok):
            self._fail(keys, now)
            log.warning("touchscreen sign-in refused for badge %s from %s", badge, client)
            raise SignInRefused("wrong badge or PIN")
        for key in keys:  # the kiosk is one client: a right PIN clears its count too
            self._failures.pop(key, None)
        self._purge(now)
        name, user = found[0]
        token = secrets.token_urlsafe(32)
        session = Session(Caller(name, user.as_role), badge, secrets.token_urlsafe(32), now)
        self._sessions[token] = session
        log.info("touchscreen: %s (%s) signed in", name, user.role)
        return token, session

    def _fail(self, keys: tuple[str, ...], now: float) -> None:
        for key in keys:
            failures = self._failures.setdefault(key, _Failures())
            failures.count += 1
            if failures.count > FREE_ATTEMPTS:
                lock = min(MAX_LOCK_S, 2.0 ** (failures.count - FREE_ATTEMPTS))
                failures.locked_until = now + lock

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for ``token`` (None once idle too long); ``touch`` keeps it alive."""
        if token is None:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self.now()
        if now - session.last_seen > self.idle_s:
            del self._sessions[token]
            log.info("touchscreen: %s signed out after inactivity", session.caller.name)
            return None
        if touch:
            session.last_seen = now
        return session

    def _purge(self, now: float) -> None:
        """Forget sessions idle for too long (so they do not pile up over months)."""
        for token in [t for t, s in self._sessions.items() if now - s.last_seen > self.idle_s]:
            del self._sessions[token]

    def sign_out(self, token: str | None) -> None:
        session = self._sessions.pop(token or "", None)
        if session is not None:
            log.info("touchscreen: %s signed out", session.caller.name)

    @staticmethod
    def anonymous() -> Caller:
        return Caller("touchscreen", Role.OBSERVER)
