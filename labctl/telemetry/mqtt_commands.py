"""Commands arriving over MQTT: checked, then run through the CLI's command registry.

No I/O here: :class:`CommandGate` turns one message from ``cmd/<user>`` into the payload of the
reply for ``reply/<user>``, so every refusal reason is testable without a broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from labctl.commands import Caller, CommandRefused, CommandRegistry, Role
from labctl.telemetry.mqtt_outbox import RateLimit
from labctl.telemetry.mqtt_topics import CommandRequest, parse_command, reply_error, reply_ok

log = logging.getLogger(__name__)


class CommandGate:
    """Validates, identifies, rate-limits and dispatches one command; returns the reply.

    ``users`` maps the ``<user>`` topic level (trusted through the broker's ACL) to a role;
    anyone else is refused. Refusals never reach the registry, so they change nothing.
    """

    def __init__(
        self,
        registry: CommandRegistry,
        users: Mapping[str, Role],
        *,
        max_payload_bytes: int = 4096,
        burst: int = 5,
        per_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._users = dict(users)
        self._max_bytes = max_payload_bytes
        self._limit = RateLimit(burst, per_s)
        self._monotonic = monotonic

    async def handle(self, user: str, payload: bytes, *, retained: bool = False) -> bytes:
        """The reply payload to the command ``payload`` published on ``cmd/<user>``."""
        if retained:
            return reply_error(None, "retained commands are ignored: publish without retain")
        request = parse_command(payload, self._max_bytes)
        if not isinstance(request, CommandRequest):
            log.info("mqtt: refused command from %s: %s", user, request.reason)
            return reply_error(request.id, request.reason)
        role = self._users.get(user)
        if role is None:
            log.warning("mqtt: refused command from unknown user %s", user)
            return reply_error(request.id, f"unknown user {user!r}: not in this lab's users")
        if not self._limit.allow(user, self._monotonic()):
            return reply_error(request.id, f"too many commands from {user}; wait and retry")
        try:
            result = await self._registry.dispatch(
                request.command, request.args, Caller(user, role)
            )
        except CommandRefused as refused:
            return reply_error(request.id, refused.reason)
        except Exception:
            log.exception("mqtt: command %s from %s failed", request.command, user)
            return reply_error(request.id, "internal error; see the labctl log")
        return reply_ok(request.id, result)
