"""MQTT floods without a broker: per-user queues, fair replies, counted drops.

Issue 11: 3,000 QoS-0 messages from a user labctl does not know left a technician's five
acknowledged commands with one or two replies: unknown users were answered before any rate
limit, every reply shared one drop-oldest queue, and the client library's drops were uncounted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, cast

import paho.mqtt.client as paho
import pytest

from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.telemetry.mqtt import MqttBridge, MqttSettings
from labctl.telemetry.mqtt_inbox import ClientDrops, counting_queue
from labctl.telemetry.mqtt_outbox import Outbox
from labctl.telemetry.mqtt_topics import Topics

ROOT = "labctl/studio"
USERS = {"tech": Role.TECHNICIAN, "flood": Role.TECHNICIAN}
NESTED = b"[" * 1000 + b"]" * 1000


class Bump(Payload):
    by: int = 1


class FakeBroker:
    """Stands in for aiomqtt.Client.publish; yields to the loop like a real publish would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: bytes, **_: object) -> None:
        await asyncio.sleep(0)
        self.sent.append((topic, json.loads(payload)))

    def replies(self, user: str) -> list[dict[str, Any]]:
        return [p for t, p in self.sent if t == f"{ROOT}/reply/{user}"]


def bridge(calls: list[Caller], **overrides: Any) -> MqttBridge:
    registry = CommandRegistry()

    async def bump(payload: Bump, caller: Caller) -> Mapping[str, object]:
        calls.append(caller)
        await asyncio.sleep(0)
        if payload.by == 0:
            raise RuntimeError("bug in a handler")
        return {"by": payload.by}

    registry.register("bump", Bump, Role.TECHNICIAN, bump, "count up")
    settings = MqttSettings(lab="studio", host="unused", **overrides)
    return MqttBridge(settings, registry, USERS, monotonic=lambda: 0.0)


def command(request_id: str, by: int = 1) -> bytes:
    return json.dumps({"id": request_id, "command": "bump", "args": {"by": by}}).encode()


async def serve(b: MqttBridge, broker: FakeBroker) -> asyncio.Task[None]:
    async def both() -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(b.serve_commands())
            # the link's own publisher, publishing to the fake broker
            tasks.create_task(b._link._publisher(cast(Any, broker)))

    return asyncio.create_task(both())


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.001)


async def test_a_technician_is_answered_during_floods_from_a_stranger_and_a_known_user() -> None:
    calls: list[Caller] = []
    b, broker = bridge(calls), FakeBroker()
    task = await serve(b, broker)
    try:
        for n in range(3000):
            b.receive("mallory", command(f"m{n}"), False)  # not in the lab's users
            b.receive("flood", command(f"f{n}"), False)  # known, far over its rate
            if n % 600 == 300:
                b.receive("tech", command(f"t{n // 600}"), False)
            if n % 50 == 0:
                await asyncio.sleep(0)  # messages arrive over time, not all at once
        await until(lambda: len(broker.replies("tech")) == 5)
        await until(lambda: b.depth()["replies"] == 0)
    finally:
        task.cancel()
    tech = broker.replies("tech")
    assert [r["id"] for r in tech] == [f"t{n}" for n in range(5)]
    assert all(r["ok"] for r in tech)
    assert broker.replies("mallory") == []
    flood = broker.replies("flood")
    assert 0 < len(flood) < 3000
    assert all("too many commands" in r["error"] for r in flood[-10:])
    assert b.dropped["unknown_users"] == 3000
    assert b.refused["rate_limited"] == 2995
    # the flooder's own, oldest first (one dropped while in flight is sent and counted too)
    assert b.dropped["replies"] + len(flood) >= 3000
    assert [c.name for c in calls].count("tech") == 5
    assert [c.name for c in calls].count("flood") == 5  # its burst; the rest never parsed


async def test_a_nested_message_or_a_failing_command_does_not_stop_the_worker() -> None:
    calls: list[Caller] = []
    b, broker = bridge(calls), FakeBroker()
    task = await serve(b, broker)
    try:
        b.receive("tech", NESTED, False)
        b.receive("tech", command("boom", by=0), False)
        b.receive("tech", command("after"), False)
        await until(lambda: len(broker.replies("tech")) == 3)
    finally:
        task.cancel()
    nested, boom, after = broker.replies("tech")
    assert "nested deeper" in nested["error"]
    assert boom["id"] == "boom" and "internal error" in boom["error"]
    assert after == {"id": "after", "ok": True, "result": {"by": 1}}


async def test_a_full_user_queue_answers_busy_and_counts_it() -> None:
    b = bridge([], user_queue_max=2, command_burst=10)
    for n in range(4):
        b.receive("tech", command(f"t{n}"), False)  # no worker running: they wait
    assert b.depth()["commands"] == 2
    assert b.dropped["commands"] == 2
    broker = FakeBroker()
    task = await serve(b, broker)
    try:
        await until(lambda: len(broker.replies("tech")) == 4)
    finally:
        task.cancel()
    replies = broker.replies("tech")
    assert sum("busy" in r.get("error", "") for r in replies) == 2
    assert {r["id"] for r in replies if r["ok"]} == {"t0", "t1"}


def test_replies_are_queued_per_user_and_served_in_turn() -> None:
    outbox = Outbox(Topics("studio"), queue_max=100, telemetry_interval_s=0, reply_max=20)
    for n in range(50):
        outbox.put_reply("flood", json.dumps({"n": n}).encode())
    outbox.put_reply("tech", b'{"n": "t"}')
    assert outbox.dropped["replies"] == 30  # the flooder's 30 oldest, nobody else's
    order = []
    while (item := outbox.peek()) is not None:
        order.append((item.topic.rsplit("/", 1)[1], json.loads(item.payload)["n"]))
        outbox.done(item)
    assert order[:3] == [("flood", 30), ("tech", "t"), ("flood", 31)]
    assert len(order) == 21


def test_a_reply_dropped_while_in_flight_is_not_removed_twice() -> None:
    outbox = Outbox(Topics("studio"), queue_max=100, telemetry_interval_s=0, reply_max=2)
    outbox.put_reply("tech", b"0")
    outbox.put_reply("tech", b"1")
    in_flight = outbox.peek()
    assert in_flight is not None and in_flight.payload == b"0"
    outbox.put_reply("tech", b"2")  # drops "0", the one being published
    outbox.done(in_flight)
    left = []
    while (item := outbox.peek()) is not None:
        left.append(item.payload)
        outbox.done(item)
    assert left == [b"1", b"2"]


def test_the_counting_queue_counts_what_it_refuses() -> None:
    drops = ClientDrops()
    queue = counting_queue(drops, int)(maxsize=1)
    queue.put_nowait(1)
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait(2)
    assert drops.count == 1 and queue.qsize() == 1


async def test_messages_the_mqtt_client_drops_are_counted_with_the_other_drops() -> None:
    b = bridge([], queue_max=3)
    client = b._link._client()  # not connected: only its incoming queue is used
    for n in range(5):
        message = paho.MQTTMessage(topic=f"{ROOT}/cmd/tech".encode())
        message.payload = command(f"t{n}")
        client._on_message(client._client, None, message)
    assert len(client.messages) == 3
    assert b.dropped["client_queue"] == 2
