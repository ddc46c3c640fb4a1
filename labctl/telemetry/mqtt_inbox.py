"""Incoming MQTT commands: one bounded queue per known user, and the counters of what is lost.

The bridge's receiver only sorts messages into these queues (it never parses or dispatches),
so it keeps up with a flood; each known user's commands are then run by that user's own
worker, so one user's flood or slow command never holds up another user's commands.

- :class:`Inbox`: a bounded FIFO per known user; a full one refuses the new command (the
  sender is told "busy") rather than dropping one already waiting, which would go unanswered.
- :class:`LogEvery`: "log state changes, not repeats" for things that come in floods (unknown
  users, the MQTT client's own drops): one line, then at most one summary per interval.
- :func:`counting_queue`: the queue class handed to aiomqtt for its incoming messages, which
  counts the messages aiomqtt discards when that queue is full (aiomqtt only logs a warning).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pending:
    """One command waiting for its user's worker; ``received`` is the monotonic arrival time."""

    payload: bytes
    retained: bool
    received: float


class Inbox:
    """A bounded FIFO of :class:`Pending` commands per known user."""

    def __init__(self, users: frozenset[str], per_user: int) -> None:
        if per_user < 1:
            raise ValueError("per_user must be at least 1")
        self._queues: dict[str, asyncio.Queue[Pending]] = {
            user: asyncio.Queue(per_user) for user in sorted(users)
        }
        self.refused = 0  # commands refused because their user's queue was full

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(self._queues)

    def put(self, user: str, pending: Pending) -> bool:
        """Queue ``pending`` for ``user``; False (and counted) if that user's queue is full."""
        try:
            self._queues[user].put_nowait(pending)
        except asyncio.QueueFull:
            self.refused += 1
            return False
        return True

    async def get(self, user: str) -> Pending:
        """The next command of ``user`` (waits for one)."""
        return await self._queues[user].get()

    def depth(self) -> int:
        """Commands waiting, all users together."""
        return sum(q.qsize() for q in self._queues.values())


class LogEvery:
    """Decides when a repeated happening is logged: its first time, then once per interval.

    :meth:`due` counts one happening and says whether to log now; :attr:`since_last` is how
    many happened since the last logged one (to say "N more" in the summary line).
    """

    def __init__(self, interval_s: float) -> None:
        self._interval = interval_s
        self._last: float | None = None
        self.total = 0
        self.since_last = 0

    def due(self, now: float) -> bool:
        self.total += 1
        self.since_last += 1
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True

    def logged(self) -> None:
        """The caller logged (its summary used :attr:`since_last`): start counting again."""
        self.since_last = 0


@dataclass
class ClientDrops:
    """Messages the MQTT client library discarded because its incoming queue was full."""

    count: int = 0


def counting_queue(drops: ClientDrops, _item: type[T]) -> type[asyncio.Queue[T]]:
    """A queue class of ``_item`` for ``aiomqtt.Client(queue_type=...)`` counting overflows.

    aiomqtt's ``_on_message`` calls ``put_nowait`` and, on ``QueueFull``, logs "Message queue is
    full. Discarding message." and drops it; the subclass counts each such drop in ``drops``.
    (aiomqtt itself is imported only by :mod:`labctl.telemetry.mqtt`.)
    """

    class CountingQueue(asyncio.Queue[T]):
        def put_nowait(self, item: T) -> None:
            try:
                super().put_nowait(item)
            except asyncio.QueueFull:
                drops.count += 1
                raise

    return CountingQueue
