"""Commands arriving over MQTT: checked, then run through the CLI's command registry.

No I/O here: :class:`CommandGate` turns one message from ``cmd/<user>`` into the payload of the
reply for ``reply/<user>``, so every refusal reason is testable without a broker.

The order of work keeps a flood cheap: first the user (a dict lookup; a user this lab does not
know is dropped *silently*, only counted, and logged at most once a minute, so a stranger can
neither make labctl talk nor fill its logs), then that user's rate limit (before any parsing),
then the retain flag, then parsing (size and depth bounded), the command's age, and only then
the registry. :meth:`CommandGate.admit` is the cheap half, run by the bridge's receiver as each
message arrives; :meth:`CommandGate.run` is the rest, run by the user's own worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Final

from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.config.users import Role
from labctl.telemetry.mqtt_inbox import LogEvery
from labctl.telemetry.mqtt_outbox import RateLimit
from labctl.telemetry.mqtt_topics import CommandRequest, parse_command, reply_error, reply_ok
from labctl.units import Unit

log = logging.getLogger(__name__)

UNKNOWN_LOG_INTERVAL_S: Final = 60.0
NO_REPLY: Final = b""  # the reply to a message that gets none (an unknown user's)


class CommandGate:
    """Identifies, rate-limits, validates and dispatches one command; returns the reply.

    ``users`` maps the ``<user>`` topic level (trusted through the broker's ACL) to a role;
    anyone else gets no reply at all (:data:`NO_REPLY`) and is counted in
    :attr:`unknown_dropped`. Refusals never reach the registry, so they change nothing.
    ``wall`` is the unix clock ``sent_at`` is compared with; ``monotonic`` the rate limit's.
    """

    def __init__(
        self,
        registry: CommandRegistry,
        users: Mapping[str, Role],
        *,
        max_payload_bytes: int = 4096,
        burst: int = 5,
        per_s: float = 1.0,
        unit: Unit = "C",
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        deadline_s: float = COMMAND_DEADLINE_S,
    ) -> None:
        self._registry = registry
        self._users = dict(users)
        self._max_bytes = max_payload_bytes
        self._limit = RateLimit(burst, per_s)
        self._monotonic = monotonic
        self._wall = wall
        self._deadline = deadline_s
        self._unit = unit  # of the texts in replies
        self._unknown = LogEvery(UNKNOWN_LOG_INTERVAL_S)
        self._unknown_names: set[str] = set()  # since the last log line, at most a few
        self.rate_limited = 0  # commands refused by the per-user rate limit
        self.stale = 0  # commands refused as older than their deadline

    @property
    def users(self) -> frozenset[str]:
        return frozenset(self._users)

    @property
    def unknown_dropped(self) -> int:
        """Messages from users this lab does not know, dropped without a reply."""
        return self._unknown.total

    def admit(self, user: str) -> bytes | None:
        """The cheap checks, before any parsing: None if the command may go on, else the reply.

        An unknown user's reply is :data:`NO_REPLY`; a known user over the rate limit is
        refused (the request id is not read: that would be parsing).
        """
        if user not in self._users:
            self._drop_unknown(user)
            return NO_REPLY
        if not self._limit.allow(user, self._monotonic()):
            self.rate_limited += 1
            return reply_error(None, f"too many commands from {user}; wait and retry", self._unit)
        return None

    async def run(
        self, user: str, payload: bytes, *, retained: bool = False, waited_s: float = 0.0
    ) -> bytes:
        """The reply to an admitted command that waited ``waited_s`` in labctl. Never raises."""
        try:
            return await self._run(user, payload, retained, waited_s)
        except Exception as err:  # the worker must outlive any bug
            log.exception("mqtt: command from %s failed", user)
            return reply_error(
                None, f"internal error: {type(err).__name__}; see the labctl log", self._unit
            )

    async def handle(self, user: str, payload: bytes, *, retained: bool = False) -> bytes:
        """The reply to ``payload`` published on ``cmd/<user>`` (:data:`NO_REPLY`: none)."""
        refused = self.admit(user)
        if refused is not None:
            return refused
        return await self.run(user, payload, retained=retained)

    async def _run(self, user: str, payload: bytes, retained: bool, waited_s: float) -> bytes:
        if retained:
            return reply_error(
                None, "retained commands are ignored: publish without retain", self._unit
            )
        request = parse_command(payload, self._max_bytes)
        if not isinstance(request, CommandRequest):
            log.info("mqtt: refused command from %s: %s", user, request.reason)
            return reply_error(request.id, request.reason, self._unit)
        too_old = self._too_old(request, waited_s)
        if too_old is not None:
            self.stale += 1
            log.info("mqtt: refused %s from %s: %s", request.command, user, too_old)
            return reply_error(request.id, too_old, self._unit)
        caller = Caller(user, self._users[user])
        try:
            result = await self._registry.dispatch(request.command, request.args, caller)
        except CommandRefused as refused:
            return reply_error(request.id, refused.reason, self._unit)
        except Exception:
            log.exception("mqtt: command %s from %s failed", request.command, user)
            return reply_error(request.id, "internal error; see the labctl log", self._unit)
        return reply_ok(request.id, result, self._unit)

    def _too_old(self, request: CommandRequest, waited_s: float) -> str | None:
        """Why ``request`` is stale (its age against the deadline), or None if it is not."""
        deadline = f"deadline {self._deadline:g} s"
        if request.sent_at is not None:
            age = self._wall() - request.sent_at
            if age > self._deadline:
                return f"stale: sent {age:.0f} s ago ({deadline})"
            if -age > self._deadline:
                return f"sent_at is {-age:.0f} s in the future: check the sender's clock"
        if waited_s > self._deadline:
            return f"stale: waited {waited_s:.0f} s in labctl's queue ({deadline})"
        return None

    def _drop_unknown(self, user: str) -> None:
        """Count a message from an unknown user; log one line, then one a minute at most."""
        if len(self._unknown_names) < 5:
            self._unknown_names.add(user)
        if not self._unknown.due(self._monotonic()):
            return
        names = ", ".join(sorted(self._unknown_names))
        if self._unknown.total == 1:
            log.warning("mqtt: ignoring commands from %s: not in this lab's users", names)
        else:
            log.warning(
                "mqtt: ignored %d more commands from users not in this lab's users (%s; %d in all)",
                self._unknown.since_last,
                names,
                self._unknown.total,
            )
        self._unknown.logged()
        self._unknown_names.clear()
