"""One command registry shared by every way a person reaches the daemon.

The control socket (CLI), and later the touchscreen and MQTT, all dispatch through
:class:`CommandRegistry`: each command is defined once with its payload model, the role it
needs, and a handler that checks machine state and either acts or raises
:class:`CommandRefused` with a reason a technician can read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labctl.config.users import Role

log = logging.getLogger(__name__)


NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # machine, profile and alloy names in command payloads
#: The id of a production record (lot, melt, flask, cast...): in ledger records and in the
#: payloads that name one (a cast start names its flask and melt).
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")]


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
