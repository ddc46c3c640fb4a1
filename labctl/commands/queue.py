"""The queue that hands commands to one machine's control loop, and the deadline it keeps.

A command's handler runs in the registry's task, but only the machine's loop may touch the
machine's devices: :class:`CommandQueue` carries each action to the loop, between two ticks,
and carries exactly one answer back (a result or a :class:`CommandRefused`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from labctl.commands.registry import CommandRefused

Action = Callable[[], Awaitable[dict[str, object]]]

#: How long a command may wait for its machine's loop to take it (wall seconds). Shorter than
#: every client's own timeout (control socket 30 s, the touchscreen's fetch 20 s), so a command
#: not taken in time is refused and never carried out after its sender was told it failed.
COMMAND_DEADLINE_S = 10.0


class InternalError(Exception):
    """An action failed with an error nobody planned for; the machine's supervisor handles it.

    The command's sender has already been answered with a refusal naming it.
    """


@dataclass(slots=True, eq=False)
class _Pending:
    action: Action
    future: asyncio.Future[dict[str, object]]
    started: bool = False


class CommandQueue:
    """Actions for one control loop, run between its ticks so nothing else touches its devices.

    Every submitted action gets exactly one answer: its result, or :class:`CommandRefused`
    with the reason. ``errors`` are the exceptions an action may raise that become a refusal
    with their text (a device that did not take a write, a store that refused). Anything else
    is answered as an internal error and re-raised from :meth:`run_pending` as
    :class:`InternalError` for the machine's supervisor. An action not taken within its
    deadline is refused and dropped, never carried out late; an action whose sender went away
    before it was taken is dropped too.
    """

    def __init__(
        self, owner: str, errors: tuple[type[Exception], ...] = (), size: int = 16
    ) -> None:
        self._owner, self._errors = owner, errors
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(size)
        self.busy_reason: Callable[[], str | None] = lambda: None
        self.expired = 0  # commands refused because the loop did not take them in time

    async def submit(
        self, action: Action, deadline_s: float = COMMAND_DEADLINE_S
    ) -> dict[str, object]:
        """Queue ``action``; its result, or CommandRefused with the reason, reaches the caller."""
        pending = _Pending(action, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise CommandRefused(f"{self._owner} is busy; try again in a moment") from None
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), deadline_s)
        except TimeoutError:
            if pending.started:  # being carried out: its own I/O timeouts bound it
                return await pending.future
            pending.future.cancel()
            self.expired += 1
            why = self.busy_reason() or "its control loop did not take it"
            raise CommandRefused(
                f"{self._owner}: not done within {deadline_s:g} s ({why}); nothing was changed"
            ) from None
        finally:
            if not pending.started:
                pending.future.cancel()  # the sender went away: never carried out
            elif not pending.future.done():  # its answer comes after the sender went away
                pending.future.add_done_callback(_consume)

    async def run_pending(self) -> None:
        """Run every queued action, in order (called by the loop between ticks)."""
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if pending.future.done():  # expired or abandoned: not carried out
                continue
            pending.started = True
            await self._run(pending)

    def refuse_all(self, reason: str) -> None:
        """Answer every queued action with a refusal (the loop will not take them)."""
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(CommandRefused(f"{self._owner}: {reason}"))

    async def _run(self, pending: _Pending) -> None:
        future = pending.future
        try:
            result = await pending.action()
        except CommandRefused as refused:
            _answer(future, error=refused)
        except self._errors as err:
            _answer(future, error=CommandRefused(f"{self._owner}: not done: {err}"))
        except Exception as err:
            what = f"{type(err).__name__}: {err}"
            refusal = CommandRefused(f"{self._owner}: internal error: {what}", internal=True)
            _answer(future, error=refusal)
            raise InternalError(what) from err
        else:
            _answer(future, result=result)


def _consume(future: asyncio.Future[dict[str, object]]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: nobody is left to hear a refusal


def _answer(
    future: asyncio.Future[dict[str, object]],
    *,
    result: dict[str, object] | None = None,
    error: CommandRefused | None = None,
) -> None:
    """Resolve ``future`` once; a sender that went away meanwhile is simply not answered."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result or {})
