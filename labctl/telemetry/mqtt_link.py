"""The MQTT bridge's connection to the broker: the only module that imports aiomqtt.

:meth:`MqttLink.run` is aiomqtt's reconnect pattern (``async with Client`` inside ``while
True``, catching ``MqttError``) with exponential backoff and jitter; each session subscribes,
says ``online``, and runs a publisher (draining the :class:`~.mqtt_outbox.Outbox`), a receiver
(handing each command message to a callback that only sorts it into a queue) and the
heartbeat. See :mod:`labctl.telemetry.mqtt` for the design.

**Clean session.** labctl connects with ``clean_session=True``: the broker keeps no session
for it, so commands published while labctl is down or disconnected are *not* queued for it
and delivered in a burst when it returns (where they could run long after their senders gave
up). A sender that got no reply within its timeout retries knowing the state then. Delays
the broker cannot see (a sender's own client holding a QoS 1 publish while its link was
down) are caught by the command's ``sent_at`` and the deadline (:mod:`.mqtt_commands`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable

import aiomqtt

from labctl.telemetry.mqtt_inbox import ClientDrops, counting_queue
from labctl.telemetry.mqtt_outbox import Outbox
from labctl.telemetry.mqtt_topics import MqttSettings, Topics, backoff_s

log = logging.getLogger("labctl.telemetry.mqtt")
# paho logs a dropped connection at ERROR from inside its socket callbacks, and aiomqtt a full
# incoming queue as a warning per message; the link logs the loss once (with the reason) and
# counts the drops (:class:`ClientDrops`), so the library's own lines stay out of the journal.
_CLIENT_LOG = log.getChild("client")
_CLIENT_LOG.setLevel(logging.CRITICAL)

DROPS_LOG_INTERVAL_S = 60.0
OnCommand = Callable[[str, bytes, bool], None]  # (user, payload, retained); must not block


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


class MqttLink:
    """Keeps one connection to the broker; publishes ``outbox``; hands commands to a callback."""

    def __init__(
        self,
        settings: MqttSettings,
        topics: Topics,
        outbox: Outbox,
        wake: asyncio.Event,
        on_command: OnCommand,
        monotonic: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._topics = topics
        self._outbox = outbox
        self._wake = wake
        self._on_command = on_command
        self._monotonic = monotonic
        self.client_drops = ClientDrops()
        self._drops_logged = 0
        self._drops_logged_at: float | None = None
        self.connected = False
        self._failures = 0  # connection attempts failed since the last success
        self._down_since: float | None = None  # when the connection was last lost
        self._name = f"mqtt[{settings.lab}]"

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
            will=aiomqtt.Will(self._topics.status, b"offline", qos=1, retain=True),
            keepalive=s.keepalive_s,
            timeout=s.timeout_s,
            tls_params=tls,
            clean_session=True,  # no backlog of commands from while labctl was away
            queue_type=counting_queue(self.client_drops, aiomqtt.Message),
            max_queued_incoming_messages=s.queue_max,
            logger=_CLIENT_LOG,
        )

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff, until cancelled."""
        s = self._settings
        while True:
            reason = await self._session()
            where = f"{s.host}:{s.port}"
            if self.connected:
                self.connected = False
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
        for topic, qos in ((self._topics.commands, 1), (self._topics.heartbeat, 0)):
            codes = await client.subscribe(topic, qos=qos)
            if not all(code < 0x80 for code in codes):  # SUBACK 0x80+: refused
                raise SubscriptionRefused(f"broker refused subscription to {topic}: check its ACL")
        await client.publish(self._topics.status, b"online", qos=1, retain=True)
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
        self.connected = True

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """On shutdown: a clean disconnect sends no will, so say ``offline`` ourselves."""
        try:
            await client.publish(self._topics.status, b"offline", qos=1, retain=True, timeout=2)
        except aiomqtt.MqttError as err:
            log.warning("%s: could not publish offline: %s", self._name, err)
        self.connected = False

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
            self._note_client_drops()
            topic = message.topic.value
            payload = message.payload
            if topic == self._topics.heartbeat:
                heartbeat.received(payload)
                continue
            user = self._topics.user_of_command(topic)
            if user is not None:
                self._on_command(user, payload, message.retain)

    def _note_client_drops(self) -> None:
        """Log that the client library dropped messages: at most once a minute, with the count."""
        count, now, at = self.client_drops.count, self._monotonic(), self._drops_logged_at
        if count != self._drops_logged and (at is None or now - at >= DROPS_LOG_INTERVAL_S):
            self._drops_logged_at = now
            log.warning(
                "%s: the MQTT client dropped %d incoming messages (its queue of %d was full)",
                self._name,
                count - self._drops_logged,
                self._settings.queue_max,
            )
            self._drops_logged = count

    async def _heartbeat(self, client: aiomqtt.Client, heartbeat: _Heartbeat) -> None:
        s = self._settings
        nonce = secrets.token_hex(4)
        sequence = 0
        while True:
            sequence += 1
            heartbeat.expected = f"{s.client_id} {nonce} {sequence}".encode()
            heartbeat.seen.clear()
            await client.publish(self._topics.heartbeat, heartbeat.expected, qos=0)
            try:
                async with asyncio.timeout(s.heartbeat_timeout_s):
                    await heartbeat.seen.wait()
            except TimeoutError:
                raise HeartbeatLost(
                    f"heartbeat not echoed within {s.heartbeat_timeout_s:g} s"
                ) from None
            if not self.connected:
                self._verified()
            await asyncio.sleep(s.heartbeat_s)
