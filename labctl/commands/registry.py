"""One command registry shared by every way a person reaches the daemon.

The control socket (CLI), and later the touchscreen and MQTT, all dispatch through
:class:`CommandRegistry`: each command is defined once with its payload model, the role it
needs, and a handler that checks machine state and either acts or raises
:class:`CommandRefused` with a reason a technician can read.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)


NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # machine, profile and alloy names in command payloads


class Role(enum.IntEnum):
    """Who may give a command; a higher role may do everything a lower one may."""

    OBSERVER = 0
    TECHNICIAN = 1
    SUPERVISOR = 2


class CommandRefused(Exception):
    """A command was not carried out; ``reason`` says why in plain words.

    ``internal``: refused because of an error nobody planned for (a bug), not a rule; its
    traceback is already logged where it happened.
    """

    def __init__(self, reason: str, *, internal: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.internal = reason, internal


class Payload(BaseModel):
    """Base of every command payload: strict, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command and what they may do."""

    name: str
    role: Role


Handler = Callable[[Any, Caller], Awaitable[Mapping[str, object]]]


@dataclass(frozen=True, slots=True)
class Command:
    """A registered command."""

    name: str
    payload: type[Payload]
    role: Role
    handler: Handler
    summary: str


class CommandRegistry:
    """Commands by name; :meth:`dispatch` validates, authorises, runs and logs each one."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def register(
        self, name: str, payload: type[Payload], role: Role, handler: Handler, summary: str
    ) -> None:
        if name in self._commands:
            raise ValueError(f"command {name!r} registered twice")
        self._commands[name] = Command(name, payload, role, handler, summary)

    def role_of(self, name: str) -> Role | None:
        """The role command ``name`` needs (None: no such command)."""
        command = self._commands.get(name)
        return None if command is None else command.role

    def names(self) -> list[str]:
        return sorted(self._commands)

    async def dispatch(
        self, name: str, raw: Mapping[str, object], caller: Caller
    ) -> Mapping[str, object]:
        """Run command ``name`` for ``caller``; raises CommandRefused with the reason."""
        command = self._commands.get(name)
        if command is None:
            raise CommandRefused(f"unknown command {name!r}; known: {', '.join(self.names())}")
        if caller.role < command.role:
            log.warning("refused %s from %s: needs role %s", name, caller.name, command.role.name)
            raise CommandRefused(
                f"{name} needs a {command.role.name.lower()}; {caller.name} is a "
                f"{caller.role.name.lower()}"
            )
        try:
            payload = command.payload.model_validate(dict(raw))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in err.errors()
            )
            raise CommandRefused(f"{name}: {problems}") from None
        try:
            result = await command.handler(payload, caller)
        except CommandRefused as refused:
            log.info("refused %s from %s: %s", name, caller.name, refused.reason)
            raise
        except Exception as err:  # a bug or an unplanned error: answered, logged once
            log.exception("command %s from %s failed", name, caller.name)
            raise CommandRefused(
                f"{name}: internal error: {type(err).__name__}: {err}", internal=True
            ) from err
        if command.role is not Role.OBSERVER:  # queries are not state changes
            log.info("command %s by %s: %s", name, caller.name, payload.model_dump())
        return result


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
