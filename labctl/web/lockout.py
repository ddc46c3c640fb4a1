"""The wrong-PIN throttle: charged before the PIN is checked, per badge, kept across restarts.

An attempt first passes :meth:`Lockout.acquire`, which refuses it at once while another
attempt for the same badge is being checked or while the badge is locked, and otherwise
*charges* it as a wrong PIN (the lock included) before any scrypt runs; only a right PIN takes
the charge back (:meth:`Lockout.succeeded`). So a burst of concurrent guesses gets one check,
and a crash or restart in the middle of a check keeps the charge.

Locks are per badge: on the kiosk (one address for everybody) one person's wrong PINs lock
only their own badge. Addresses off the loopback interface are counted too, with a generous
allowance (:data:`ADDRESS_FREE`), against one client trying one PIN on many badges; a right
PIN does not clear an address's count (a person with a badge could otherwise reset it between
guesses at other badges). The kiosk's own address is never counted: that would lock everybody.

The records live in a small JSON file in the site's state_dir, written atomically (temporary
file, fsync, rename) off the event loop. A file that cannot be read is moved aside and the
throttle takes the safe side: for :data:`FORGET_S` every badge and address starts at the
longest lock (one try, then :data:`MAX_LOCK_S` after a wrong PIN), so a damaged file never
unlocks a badge under attack, while a technician with the right PIN still signs in at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labctl.web.lockout_file import LockoutFileError, Record, read_records, write_records

log = logging.getLogger(__name__)

FREE_ATTEMPTS = 3  # wrong PINs for a badge before each further attempt has to wait
ADDRESS_FREE = 30  # wrong PINs from one remote address (any badges) before it has to wait
MAX_LOCK_S = 300.0
FORGET_S = 86_400.0  # a record without a wrong PIN for this long is forgotten
MAX_RECORDS = 10_000  # the oldest are forgotten first beyond this (made-up badges fill it)
CAP_COUNT = FREE_ATTEMPTS + math.ceil(math.log2(MAX_LOCK_S))  # a wrong PIN here locks for MAX


class SignInRefused(Exception):
    """Sign-in not granted, with the reason.

    ``retry_after_s`` is set while attempts are being slowed; ``busy`` while another attempt
    for the same badge is being checked.
    """

    def __init__(
        self, reason: str, retry_after_s: int | None = None, *, busy: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason, self.retry_after_s, self.busy = reason, retry_after_s, busy


@dataclass
class Lockout:
    """Wrong-PIN records by key (``badge:N``, ``address:A``), and the badges being checked."""

    path: Path | None = None  # None: kept in memory only (tests, tools)
    clock: Callable[[], float] = time.time
    _records: dict[str, Record] = field(default_factory=dict)
    _checking: set[str] = field(default_factory=set)
    _floor_until: float = 0.0  # until then unknown keys start at CAP_COUNT (file was unreadable)
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _write_failed: bool = False

    def __post_init__(self) -> None:
        if self.path is None:
            return
        try:
            self._floor_until, self._records = read_records(self.path)
        except LockoutFileError as err:
            aside = self.path.with_name(self.path.name + ".corrupt")
            try:
                self.path.replace(aside)
            except OSError:
                aside = self.path
            self._floor_until = self.clock() + FORGET_S
            log.error(
                "touchscreen: wrong-PIN records unreadable (%s; kept as %s): every badge starts "
                "at the longest lock for %.0f h",
                err,
                aside,
                FORGET_S / 3600,
            )
        if self._records:
            log.info("touchscreen: %d wrong-PIN record(s) kept from before", len(self._records))

    def acquire(self, badge: str, address: str | None) -> None:
        """Let one attempt for ``badge`` (from remote ``address``) be checked, charged as wrong.

        Raises SignInRefused, counting nothing, while the badge is being checked or either key
        is locked. Call :meth:`release` when the check is over, whatever happened.
        """
        if badge in self._checking:
            raise SignInRefused(f"a sign-in for badge {badge} is being checked", busy=True)
        now = self.clock()
        keys = [f"badge:{badge}"] + ([f"address:{address}"] if address else [])
        for key in keys:
            wait = self.seconds_locked(key, now)
            if wait:
                whose = "" if key.startswith("badge:") else " from this address"
                raise SignInRefused(
                    f"too many wrong PINs{whose}; try again in {wait} s", retry_after_s=wait
                )
        self._checking.add(badge)
        for key in keys:
            self._charge(key, now, ADDRESS_FREE if key.startswith("address:") else FREE_ATTEMPTS)

    def succeeded(self, badge: str) -> None:
        """The right PIN: the badge's charge and count are cleared (an address's are not)."""
        self._records.pop(f"badge:{badge}", None)

    def release(self, badge: str) -> None:
        self._checking.discard(badge)

    def seconds_locked(self, key: str, now: float | None = None) -> int:
        """Whole seconds ``key`` stays locked (0: not locked); never more than MAX_LOCK_S."""
        record = self._records.get(key)
        if record is None:
            return 0
        wait = min(record.locked_until - (self.clock() if now is None else now), MAX_LOCK_S)
        return math.ceil(wait) if wait > 0 else 0

    def _charge(self, key: str, now: float, free: int) -> None:
        record = self._records.get(key)
        if record is None or now - record.last > FORGET_S:
            self._make_room(now)
            record = Record(count=CAP_COUNT if now < self._floor_until else 0)
            self._records[key] = record
        record.count += 1
        record.last = now
        if record.count > free:
            record.locked_until = now + min(MAX_LOCK_S, 2.0 ** (record.count - free))
            if record.count == free + 1:
                log.warning("touchscreen: %s locked after %d wrong PINs", key, record.count)

    def _make_room(self, now: float) -> None:
        if len(self._records) < MAX_RECORDS:
            return
        for key in [k for k, r in self._records.items() if now - r.last > FORGET_S]:
            del self._records[key]
        while len(self._records) >= MAX_RECORDS:
            oldest = min(self._records, key=lambda k: self._records[k].last)
            del self._records[oldest]

    async def save(self) -> None:
        """Write the records (the newest state wins; never two writers at once)."""
        if self.path is None:
            return
        async with self._write_lock:
            now = self.clock()
            records = {k: r for k, r in self._records.items() if now - r.last <= FORGET_S}
            try:
                await asyncio.to_thread(write_records, self.path, self._floor_until, records)
            except OSError as err:
                if not self._write_failed:
                    log.error(
                        "touchscreen: wrong-PIN records not written (%s); kept in memory", err
                    )
                self._write_failed = True
                return
            if self._write_failed:
                log.info("touchscreen: wrong-PIN records written again")
            self._write_failed = False
