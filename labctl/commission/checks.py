"""The checks of one commissioning as they are made: each passed or failed, with its numbers.

A family's checks add results to a :class:`CheckList` (printed as they come through
``on_check``); what the unit said about itself goes in ``identity`` and ``firmware``. Check
names are the same for every family, so a failed check reads the same on any device (in the
order they are made):

* ``registers``: every register or command the driver uses, one request at a time (reads only);
* ``identity``: the unit is the one named (identity registers or replies, decimal point, units);
* ``ranges``: the unit's ranges hold the machine's configured limits;
* ``inhibit``: heat, pump and drive driven to their safe state before any other write, verified
  (not tried on a unit that failed ``identity``);
* ``blocks``: the reads the driver makes, as the bus plans them (narrowed where one fails);
* ``writes``: writes to harmless registers verified by read-back;
* ``turnaround``: request to reply, median and maximum, against the configured timeout;
* ``lease``: what the unit does when the host goes silent, as labctl assumes it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from labctl.ledger.ops_records import DeviceCheck

T = TypeVar("T")
MAX_DETAIL = 500  # characters of a check's detail the ledger record holds
MAX_SAID = 100  # characters of an identity value or firmware version the record holds
OnCheck = Callable[[DeviceCheck], None]


@dataclass
class CheckList:
    """Results in the order they were made, and what the unit said about itself."""

    on_check: OnCheck = lambda check: None
    checks: list[DeviceCheck] = field(default_factory=list)
    identity: dict[str, str] = field(default_factory=dict)
    firmware: str | None = None

    def add(self, name: str, passed: bool, detail: str, **measured: int) -> bool:
        """Record one check (its detail cut to what the record holds); returns ``passed``."""
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 1] + "…"
        check = DeviceCheck(name=name, passed=passed, detail=detail, measured=measured)
        self.checks.append(check)
        self.on_check(check)
        return passed

    def said(self) -> tuple[dict[str, str], str | None]:
        """Identity and firmware as the record holds them (long replies cut)."""
        identity = {key: value[:MAX_SAID] for key, value in self.identity.items()}
        return identity, None if self.firmware is None else self.firmware[:MAX_SAID]


@dataclass
class Timings:
    """Request-to-reply times of single reads, in microseconds of wall time."""

    samples_us: list[int] = field(default_factory=list)

    async def timed(self, call: Awaitable[T]) -> T:
        """Await ``call`` and keep how long it took."""
        started = time.perf_counter()
        result = await call
        self.samples_us.append(round((time.perf_counter() - started) * 1e6))
        return result

    def report(self, checks: CheckList, timeout_s: float) -> None:
        """The ``turnaround`` check: the slowest reply must come well inside the timeout."""
        if not self.samples_us:
            checks.add("turnaround", False, "no request was answered: nothing to measure")
            return
        median, worst = round(statistics.median(self.samples_us)), max(self.samples_us)
        limit_us = round(timeout_s * 1e6 / 2)
        checks.add(
            "turnaround",
            worst <= limit_us,
            f"{len(self.samples_us)} replies: median {median / 1000:.1f} ms, max "
            f"{worst / 1000:.1f} ms; the configured timeout is {timeout_s:g} s "
            f"(the slowest reply must take at most half of it, {limit_us / 1000:.0f} ms)",
            median_us=median,
            max_us=worst,
            replies=len(self.samples_us),
            timeout_ms=round(timeout_s * 1000),
        )
