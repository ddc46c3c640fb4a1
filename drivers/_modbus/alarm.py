"""A reusable wall-clock deadline for a bus's transactions (one timer for many of them).

Behaves like ``asyncio.timeout`` around each transaction, but re-arms one timer instead of
creating and cancelling one per transaction, which costs a measurable share of a busy bus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class Alarm:
    """The wall-clock timeout of each transaction, for the one task that owns the wire.

    It behaves as ``asyncio.timeout(timeout_s)`` around every call, but one timer serves many
    calls: armed for the first deadline, it re-arms itself for the current call's deadline
    when it fires early (its call finished long ago), so a busy bus sets a timer about once
    per ``timeout_s`` instead of once per transaction.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._deadline = 0.0  # loop time at which the current call times out
        self._task: asyncio.Task[Any] | None = None  # the task awaiting a call
        self._timer: asyncio.TimerHandle | None = None
        self._fired = False  # the task was cancelled for its deadline

    async def run(self, call: Awaitable[T]) -> T:
        """Await ``call``; TimeoutError if it takes more than ``timeout_s`` wall seconds."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a transaction needs a task")
        loop = task.get_loop()
        self._deadline = loop.time() + self._timeout_s
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expire)
        cancelling, self._task = task.cancelling(), task
        try:
            return await call
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if task.uncancel() <= cancelling:  # nobody else cancelled the task
                    raise TimeoutError from None
            raise
        finally:
            self._task = None
            if self._fired:  # the call swallowed the cancellation and finished anyway
                self._fired = False
                task.uncancel()

    def _expire(self) -> None:
        self._timer, task = None, self._task
        if task is None:
            return  # idle: the next call arms a timer
        loop = task.get_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._expire)
        else:
            self._fired = True
            task.cancel()
