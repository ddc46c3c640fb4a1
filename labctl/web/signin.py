"""Touchscreen sessions: badge + PIN sign-in, slowed after wrong PINs, signed out when idle."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from labctl.commands.registry import Caller
from labctl.config.users import Role, UserSection
from labctl.web.answers import is_loopback
from labctl.web.lockout import FREE_ATTEMPTS, MAX_LOCK_S, Lockout, SignInRefused
from labctl.web.pins import hash_pin, verify_pin

__all__ = ["FREE_ATTEMPTS", "MAX_LOCK_S", "Session", "Sessions", "SignInRefused"]

log = logging.getLogger(__name__)


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
class Sessions:
    """Sessions by token, the badge directory, and the wrong-PIN throttle (:mod:`.lockout`).

    Each attempt is charged to its badge (and to its address off the loopback interface)
    before its PIN is checked, one check per badge at a time; after :data:`FREE_ATTEMPTS`
    each further wrong PIN locks the badge for twice as long as the last time (2 s, 4 s, ...
    up to :data:`MAX_LOCK_S`). A right PIN clears the badge's count.
    """

    users: Mapping[str, UserSection]
    idle_s: float
    now: Callable[[], float] = time.monotonic
    lockout: Lockout = field(default_factory=Lockout)
    _sessions: dict[str, Session] = field(default_factory=dict)
    _dummy: str = field(default_factory=lambda: hash_pin("000000"))

    async def sign_in(self, badge: str, pin: str, client: str) -> tuple[str, Session]:
        """A new session token for the holder of ``badge``, or SignInRefused with the reason.

        ``client`` is the browser's address; a loopback one (the kiosk) is not counted.
        """
        address = None if is_loopback(client) else client
        self.lockout.acquire(badge, address)  # refused at once, or charged as a wrong PIN
        try:
            await self.lockout.save()  # the charge is on disk before the PIN is checked
            found = [(n, u) for n, u in self.users.items() if u.badge == badge and u.pin_hash]
            stored = found[0][1].pin_hash if found else self._dummy
            assert stored is not None
            ok = await asyncio.to_thread(verify_pin, pin, stored)  # ~50 ms of scrypt, off the loop
            if found and ok:
                self.lockout.succeeded(badge)
        finally:
            self.lockout.release(badge)
        if not (found and ok):
            log.warning("touchscreen sign-in refused for badge %s from %s", badge, client)
            raise SignInRefused("wrong badge or PIN")
        await self.lockout.save()
        now = self.now()
        self._purge(now)
        name, user = found[0]
        token = secrets.token_urlsafe(32)
        session = Session(Caller(name, user.as_role), badge, secrets.token_urlsafe(32), now)
        self._sessions[token] = session
        log.info("touchscreen: %s (%s) signed in", name, user.role)
        return token, session

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
