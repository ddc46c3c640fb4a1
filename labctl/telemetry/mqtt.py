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
``cmd/<user>``         in         1       ``{"id": "...", "command": "...", "args": {...}}``
``reply/<user>``       out        1       ``{"id", "ok": true, "result"}`` or
                                          ``{"id", "ok": false, "error": "reason"}``
=====================  =========  ======  ==================================================

Commands go through the same :class:`~labctl.commands.CommandRegistry` as the CLI, with the
same roles and state checks. The caller is the ``<user>`` topic level: the broker's ACL lets
each person's client publish only to its own ``cmd/<user>`` (see
``systemd/mosquitto-labctl.acl.example``), so the level is as trustworthy as the broker login.
The role comes from the site's user table; an unknown user, a malformed payload (not JSON, an
unknown or missing field, over ``max_payload_bytes``), a retained command (it would run again at
every reconnect), a user over the rate limit, and anything the registry refuses are answered on
``reply/<user>`` with the reason (and the request id when it could be read), and change nothing.

``publish_state``/``publish_event``/``publish_telemetry`` are synchronous and never block: they
put into bounded queues (:class:`~labctl.telemetry.mqtt_topics.Outbox`) that count what they drop.
A message leaves its queue only once the broker took it, so an outage loses only what overflows.

:meth:`MqttBridge.run` is aiomqtt's reconnect pattern (``async with Client`` inside ``while
True``, catching ``MqttError``) with exponential backoff and jitter. A silently dead connection is
noticed two ways: paho's keepalive (``keepalive_s``), and an application heartbeat: every
``heartbeat_s`` labctl publishes a nonce to ``heartbeat`` and expects it back through its own
subscription within ``heartbeat_timeout_s``, else it drops the connection and reconnects. The
first probe goes out at connect, and the bridge counts as connected only once it came back, so
a login the ACL does not let publish or read (a misconfigured broker) is a failed connection.
Connection changes are logged once (connected, lost, back), not per retry; aiomqtt and paho
errors stop here and never reach the caller.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping

import aiomqtt

from labctl.commands import CommandRegistry, Role
from labctl.telemetry.mqtt_commands import CommandGate
from labctl.telemetry.mqtt_outbox import Outbox
from labctl.telemetry.mqtt_topics import MqttSettings, MqttTls, Topics, backoff_s, reply_error

__all__ = ["HeartbeatLost", "MqttBridge", "MqttSettings", "MqttTls", "SubscriptionRefused"]

log = logging.getLogger(__name__)
# paho logs a dropped connection at ERROR from inside its socket callbacks; the bridge logs the
# same loss once, as a warning with the reason, so paho's own lines stay out of the journal.
_CLIENT_LOG = log.getChild("client")
_CLIENT_LOG.setLevel(logging.CRITICAL)


class HeartbeatLost(Exception):
    """labctl's own heartbeat did not come back: the connection is dead."""


class SubscriptionRefused(Exception):
    """The broker refused a subscription labctl needs (its ACL lacks a rule)."""


class _Heartbeat:
    """One connection's heartbeat: the nonce expected back, and whether it came."""

    def __init__(self) -> None:
        self.expected = b""
        self.seen = asyncio.Event()

    def received(self, payload: bytes) -> None:
        if payload == self.expected:
            self.seen.set()


class MqttBridge:
    """Publishes the lab to MQTT and runs commands from it; see the module docstring."""

    def __init__(
        self,
        settings: MqttSettings,
        registry: CommandRegistry,
        users: Mapping[str, Role],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self.topics = Topics(settings.lab)
        self._outbox = Outbox(self.topics, settings.queue_max, settings.telemetry_interval_s)
        self._wake = asyncio.Event()
        self._commands: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue(settings.queue_max)
        self._commands_dropped = 0
        self.gate = CommandGate(
            registry,
            users,
            max_payload_bytes=settings.max_payload_bytes,
            burst=settings.command_burst,
            per_s=settings.command_rate_per_s,
            monotonic=monotonic,
        )
        self._connected = False
        self._failures = 0  # connection attempts failed since the last success
        self._down_since: float | None = None  # when the connection was last lost
        self._name = f"mqtt[{settings.lab}]"

    @property
    def connected(self) -> bool:
        """True from the first heartbeat echo of a connection until it is lost."""
        return self._connected

    @property
    def dropped(self) -> dict[str, int]:
        """Messages dropped per queue (state, replies, events, telemetry, commands)."""
        return self._outbox.dropped | {"commands": self._commands_dropped}

    @property
    def throttled(self) -> int:
        """Telemetry readings skipped to keep ``telemetry_interval_s``."""
        return self._outbox.throttled

    def depth(self) -> dict[str, int]:
        """Messages waiting per queue."""
        return self._outbox.depth() | {"commands": self._commands.qsize()}

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
            tasks.create_task(self._command_worker(), name=f"{self._name}.commands")
            tasks.create_task(self._connection_loop(), name=f"{self._name}.connection")

    async def _command_worker(self) -> None:
        while True:
            user, payload, retained = await self._commands.get()
            self._outbox.put_reply(user, await self.gate.handle(user, payload, retained=retained))
            self._wake.set()

    def _client(self) -> aiomqtt.Client:
        s = self._settings
        tls = None
        if s.tls is not None:
            tls = aiomqtt.TLSParameters(
                ca_certs=str(s.tls.ca_file) if s.tls.ca_file else None,
                certfile=str(s.tls.cert_file) if s.tls.cert_file else None,
                keyfile=str(s.tls.key_file) if s.tls.key_file else None,
            )
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            will=aiomqtt.Will(self.topics.status, b"offline", qos=1, retain=True),
            keepalive=s.keepalive_s,
            timeout=s.timeout_s,
            tls_params=tls,
            max_queued_incoming_messages=s.queue_max,
            logger=_CLIENT_LOG,
        )

    async def _connection_loop(self) -> None:
        s = self._settings
        while True:
            reason = await self._session()
            where = f"{s.host}:{s.port}"
            if self._connected:
                self._connected = False
                self._failures, self._down_since = 0, self._monotonic()
                log.warning("%s: connection to %s lost: %s", self._name, where, reason)
            elif self._failures == 0:
                log.warning("%s: cannot connect to %s: %s; retrying", self._name, where, reason)
            else:
                log.debug("%s: attempt %d failed: %s", self._name, self._failures + 1, reason)
            self._failures += 1
            delay = backoff_s(self._failures, s.backoff_min_s, s.backoff_max_s, random.random())
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        """One connection, from connect to loss; returns why it ended."""
        reason = "closed"
        try:
            async with self._client() as client:
                try:
                    await self._on_connect(client)
                    heartbeat = _Heartbeat()
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._publisher(client), name=f"{self._name}.publish")
                        tasks.create_task(
                            self._receiver(client, heartbeat), name=f"{self._name}.receive"
                        )
                        tasks.create_task(
                            self._heartbeat(client, heartbeat), name=f"{self._name}.heartbeat"
                        )
                except asyncio.CancelledError:
                    await self._say_offline(client)
                    raise
        except* (aiomqtt.MqttError, HeartbeatLost, SubscriptionRefused) as failure:
            reason = str(failure.exceptions[0]) or type(failure.exceptions[0]).__name__
        return reason

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        for topic, qos in ((self.topics.commands, 1), (self.topics.heartbeat, 0)):
            codes = await client.subscribe(topic, qos=qos)
            if not all(code < 0x80 for code in codes):  # SUBACK 0x80+: refused
                raise SubscriptionRefused(f"broker refused subscription to {topic}: check its ACL")
        await client.publish(self.topics.status, b"online", qos=1, retain=True)
        self._outbox.republish_states()
        self._wake.set()

    def _verified(self) -> None:
        """The first heartbeat came back: the connection works both ways (logged once)."""
        s = self._settings
        if self._down_since is None:
            log.info("%s: connected to %s:%d as %s", self._name, s.host, s.port, s.username)
        else:
            log.warning(
                "%s: connection back after %.1f s (%d attempts)",
                self._name,
                self._monotonic() - self._down_since,
                self._failures,
            )
        self._connected = True

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """On shutdown: a clean disconnect sends no will, so say ``offline`` ourselves."""
        try:
            await client.publish(self.topics.status, b"offline", qos=1, retain=True, timeout=2)
        except aiomqtt.MqttError as err:
            log.warning("%s: could not publish offline: %s", self._name, err)
        self._connected = False

    async def _publisher(self, client: aiomqtt.Client) -> None:
        while True:
            item = self._outbox.peek()
            if item is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
            self._outbox.done(item)

    async def _receiver(self, client: aiomqtt.Client, heartbeat: _Heartbeat) -> None:
        async for message in client.messages:
            topic = message.topic.value
            payload = message.payload
            if topic == self.topics.heartbeat:
                heartbeat.received(payload)
                continue
            user = self.topics.user_of_command(topic)
            if user is None:
                continue
            try:
                self._commands.put_nowait((user, payload, message.retain))
            except asyncio.QueueFull:
                self._commands_dropped += 1
                self._outbox.put_reply(user, reply_error(None, "labctl is busy; retry later"))
                self._wake.set()

    async def _heartbeat(self, client: aiomqtt.Client, heartbeat: _Heartbeat) -> None:
        s = self._settings
        nonce = secrets.token_hex(4)
        sequence = 0
        while True:
            sequence += 1
            heartbeat.expected = f"{s.client_id} {nonce} {sequence}".encode()
            heartbeat.seen.clear()
            await client.publish(self.topics.heartbeat, heartbeat.expected, qos=0)
            try:
                async with asyncio.timeout(s.heartbeat_timeout_s):
                    await heartbeat.seen.wait()
            except TimeoutError:
                raise HeartbeatLost(
                    f"heartbeat not echoed within {s.heartbeat_timeout_s:g} s"
                ) from None
            if not self._connected:
                self._verified()
            await asyncio.sleep(s.heartbeat_s)
