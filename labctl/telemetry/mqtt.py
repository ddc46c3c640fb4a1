"""The lab's MQTT bridge: machine state, events and telemetry out; commands in.

Topic layout (all under ``labctl/<lab>/``):

=====================  =========  ======  ==================================================
topic                  direction  QoS     payload
=====================  =========  ======  ==================================================
``state/<machine>``    out        1, ret  JSON state of one kiln/caster; sent on change and
                                          again on every (re)connect
``events/<machine>``   out        1       JSON event: run started/ended with outcome, alarm,
                                          confirmation
``telemetry/<machine>`` out       0       JSON reading, at most one per machine per
                                          ``telemetry_interval_s``
``status``             out        1, ret  ``online``; ``offline`` (also the will message)
``heartbeat``          out + in   0       labctl's own liveness probe (see below)
``cmd/<user>``         in         1       ``{"id": "...", "command": "...", "args": {...}}``,
                                          optionally ``"sent_at": <unix seconds>``
``reply/<user>``       out        1       ``{"id", "ok": true, "result"}`` or
                                          ``{"id", "ok": false, "error": "reason"}``
=====================  =========  ======  ==================================================

Commands go through the same :class:`~labctl.commands.registry.CommandRegistry` as the CLI, with the
same roles and state checks. The caller is the ``<user>`` topic level: the broker's ACL lets
each person's client publish only to its own ``cmd/<user>`` (see
``systemd/mosquitto-labctl.acl.example``), so the level is as trustworthy as the broker login.
The role comes from the site's user table. A user not in it gets no reply at all: the message
is dropped and counted (``dropped["unknown_users"]``), and logged at most once a minute. A known
user over the rate limit (checked before any parsing), a retained command (it would run again
at every reconnect), a malformed payload (not JSON, nested too deep, an unknown or missing
field, over ``max_payload_bytes``), a stale command (``sent_at`` older than the deadline), and
anything the registry refuses are answered on ``reply/<user>`` with the reason (and the
request id when it could be read), and change nothing.

**Floods.** The receiver only sorts messages: unknown users and rate-limited ones are settled
there; the rest go to a bounded queue per known user (``user_queue_max``; a full one answers
"busy"), each served by that user's own worker, so one user's flood or slow command never holds
up another's. Replies wait in a bounded queue per user (dropping that user's oldest, counted),
published round-robin. Messages the MQTT client library itself discards (its incoming queue of
``queue_max`` full) are counted as ``dropped["client_queue"]``.

``publish_state``/``publish_event``/``publish_telemetry`` are synchronous and never block: they
put into bounded queues (:class:`~labctl.telemetry.mqtt_outbox.Outbox`) that count what they drop.
A message leaves its queue only once the broker took it, so an outage loses only what overflows.

The connection (:mod:`labctl.telemetry.mqtt_link`) is aiomqtt's reconnect pattern (``async with
Client`` inside ``while True``, catching ``MqttError``) with exponential backoff and jitter. A
silently dead connection is noticed two ways: paho's keepalive (``keepalive_s``), and an
application heartbeat: every ``heartbeat_s`` labctl publishes a nonce to ``heartbeat`` and
expects it back through its own subscription within ``heartbeat_timeout_s``, else it drops the
connection and reconnects. The first probe goes out at connect, and the bridge counts as
connected only once it came back, so a login the ACL does not let publish or read (a
misconfigured broker) is a failed connection. Connection changes are logged once (connected,
lost, back), not per retry; aiomqtt and paho errors stop there and never reach the caller. It
uses a clean session: see that module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from labctl.commands.registry import CommandRegistry
from labctl.config.users import Role
from labctl.telemetry.mqtt_commands import NO_REPLY, CommandGate
from labctl.telemetry.mqtt_inbox import Inbox, Pending
from labctl.telemetry.mqtt_link import HeartbeatLost, MqttLink, SubscriptionRefused
from labctl.telemetry.mqtt_outbox import Outbox
from labctl.telemetry.mqtt_topics import MqttSettings, MqttTls, Topics, reply_error

__all__ = ["HeartbeatLost", "MqttBridge", "MqttSettings", "MqttTls", "SubscriptionRefused"]

log = logging.getLogger(__name__)


class MqttBridge:
    """Publishes the lab to MQTT and runs commands from it; see the module docstring."""

    def __init__(
        self,
        settings: MqttSettings,
        registry: CommandRegistry,
        users: Mapping[str, Role],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self.topics = Topics(settings.lab)
        self._outbox = Outbox(
            self.topics,
            settings.queue_max,
            settings.telemetry_interval_s,
            reply_max=settings.user_queue_max,
            unit=settings.temperature_unit,
        )
        self._wake = asyncio.Event()
        self.gate = CommandGate(
            registry,
            users,
            max_payload_bytes=settings.max_payload_bytes,
            burst=settings.command_burst,
            per_s=settings.command_rate_per_s,
            unit=settings.temperature_unit,
            monotonic=monotonic,
            wall=wall,
        )
        self._inbox = Inbox(self.gate.users, settings.user_queue_max)
        self._link = MqttLink(
            settings, self.topics, self._outbox, self._wake, self.receive, monotonic
        )
        self._name = f"mqtt[{settings.lab}]"

    @property
    def connected(self) -> bool:
        """True from the first heartbeat echo of a connection until it is lost."""
        return self._link.connected

    @property
    def dropped(self) -> dict[str, int]:
        """Messages dropped, per queue and cause.

        ``state``, ``replies`` (over a user's ``user_queue_max``), ``events``, ``telemetry``:
        the outbox; ``commands``: refused "busy" (the user's queue full); ``unknown_users``:
        commands from users not in the lab's users (no reply); ``client_queue``: discarded by
        the MQTT client library before labctl saw them.
        """
        return self._outbox.dropped | {
            "commands": self._inbox.refused,
            "unknown_users": self.gate.unknown_dropped,
            "client_queue": self._link.client_drops.count,
        }

    @property
    def refused(self) -> dict[str, int]:
        """Commands answered with a refusal before the registry: rate limit, stale."""
        return {"rate_limited": self.gate.rate_limited, "stale": self.gate.stale}

    @property
    def throttled(self) -> int:
        """Telemetry readings skipped to keep ``telemetry_interval_s``."""
        return self._outbox.throttled

    def depth(self) -> dict[str, int]:
        """Messages waiting per queue."""
        return self._outbox.depth() | {"commands": self._inbox.depth()}

    def publish_state(self, machine: str, state: Mapping[str, object]) -> None:
        """Retain ``state`` as the machine's state (sent if it changed). Never blocks."""
        if self._outbox.put_state(machine, state):
            self._wake.set()

    def publish_event(self, machine: str, event: Mapping[str, object]) -> None:
        """Queue an event (QoS 1, not retained). Never blocks."""
        self._outbox.put_event(machine, event)
        self._wake.set()

    def publish_telemetry(self, machine: str, reading: Mapping[str, object]) -> None:
        """Queue a reading, unless this machine's last one is under the interval old."""
        if self._outbox.put_telemetry(machine, reading, self._monotonic()):
            self._wake.set()

    async def run(self) -> None:
        """Keep connected and serve until cancelled (then publish ``offline``)."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.serve_commands(), name=f"{self._name}.commands")
            tasks.create_task(self._link.run(), name=f"{self._name}.connection")

    async def serve_commands(self) -> None:
        """Run every known user's worker until cancelled (the broker side is separate)."""
        async with asyncio.TaskGroup() as tasks:
            for user in self._inbox.users:
                tasks.create_task(self._worker(user), name=f"{self._name}.commands[{user}]")

    def receive(self, user: str, payload: bytes, retained: bool) -> None:
        """One message from ``cmd/<user>``: settle it here or queue it. Never blocks or raises.

        Unknown users and users over the rate limit are settled here (no parsing at all);
        other commands wait in their user's bounded queue, or are refused "busy" if it is full.
        """
        try:
            settled = self.gate.admit(user)
            if settled is None:
                pending = Pending(payload, retained, self._monotonic())
                if self._inbox.put(user, pending):
                    return
                settled = reply_error(None, "labctl is busy with your earlier commands; retry")
            self._reply(user, settled)
        except Exception:  # a bug here must not stop the receiver
            log.exception("%s: could not take a command from %s", self._name, user)

    async def _worker(self, user: str) -> None:
        """Runs ``user``'s commands one at a time, in order; outlives any error."""
        while True:
            pending = await self._inbox.get(user)
            waited = self._monotonic() - pending.received
            reply = await self.gate.run(
                user, pending.payload, retained=pending.retained, waited_s=waited
            )
            try:
                self._reply(user, reply)
            except Exception:
                log.exception("%s: could not queue the reply to %s", self._name, user)

    def _reply(self, user: str, payload: bytes) -> None:
        if payload != NO_REPLY:
            self._outbox.put_reply(user, payload)
            self._wake.set()
