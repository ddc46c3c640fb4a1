"""MQTT bridge logic without a broker: topics, payloads, refusals, bounded queues."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

import pytest

from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.telemetry.mqtt import MqttBridge, MqttSettings
from labctl.telemetry.mqtt_commands import CommandGate
from labctl.telemetry.mqtt_outbox import Outbox, RateLimit
from labctl.telemetry.mqtt_topics import (
    CommandRequest,
    Refusal,
    Topics,
    backoff_s,
    encode,
    parse_command,
    reply_error,
    reply_ok,
)

TOPICS = Topics("studio")


def test_topic_layout() -> None:
    assert TOPICS.state("kiln1") == "labctl/studio/state/kiln1"
    assert TOPICS.events("kiln1") == "labctl/studio/events/kiln1"
    assert TOPICS.telemetry("caster1") == "labctl/studio/telemetry/caster1"
    assert TOPICS.status == "labctl/studio/status"
    assert TOPICS.heartbeat == "labctl/studio/heartbeat"
    assert TOPICS.commands == "labctl/studio/cmd/+"
    assert TOPICS.command("alice") == "labctl/studio/cmd/alice"
    assert TOPICS.reply("alice") == "labctl/studio/reply/alice"


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "kiln 1", "x" * 65])
def test_segments_that_would_change_the_topic_tree_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="1-64 letters"):
        TOPICS.state(bad)
    with pytest.raises(ValueError, match="lab"):
        Topics(bad)


@pytest.mark.parametrize(
    ("topic", "user"),
    [
        ("labctl/studio/cmd/alice", "alice"),
        ("labctl/annex/cmd/alice", None),
        ("labctl/studio/cmd/alice/extra", None),
        ("labctl/studio/cmd/", None),
        ("labctl/studio/reply/alice", None),
        ("labctl/studiox/cmd/alice", None),
    ],
)
def test_user_of_command(topic: str, user: str | None) -> None:
    assert TOPICS.user_of_command(topic) == user


class Colour(enum.Enum):
    RED = "red"


def test_encode_is_compact_sorted_json_without_nan() -> None:
    document = {"b": float("nan"), "a": [1, float("inf")], "c": Colour.RED}
    assert encode(document) == b'{"a":[1,null],"b":null,"c":"Colour.RED"}'


def test_a_valid_command_parses() -> None:
    request = parse_command(b'{"id": "r1", "command": "start", "args": {"profile": "p"}}', 4096)
    assert request == CommandRequest(id="r1", command="start", args={"profile": "p"})
    assert parse_command(b'{"id": "r2", "command": "status"}', 4096) == CommandRequest(
        id="r2", command="status"
    )


@pytest.mark.parametrize(
    ("payload", "request_id", "reason"),
    [
        (b"x" * 5000, None, "payload is 5000 bytes; the limit is 4096"),
        (b"\xff\xfe", None, "not UTF-8"),
        (b"[" * 1000 + b"]" * 1000, None, "nested deeper than 16 levels"),
        (b"start kiln1", None, "not JSON"),
        (b'["start"]', None, "must be a JSON object"),
        (b'{"id": "r1", "command": "start", "as": "root"}', "r1", "as: Extra inputs"),
        (b'{"id": "r1"}', "r1", "command: Field required"),
        (b'{"id": 7, "command": "start"}', None, "id: Input should be a valid string"),
        (b'{"id": "", "command": "start"}', None, "id: String should have at least 1"),
        (b'{"id": "r1", "command": "start", "args": [1]}', "r1", "args: Input should be"),
    ],
)
def test_malformed_commands_are_refused_with_a_reason(
    payload: bytes, request_id: str | None, reason: str
) -> None:
    refusal = parse_command(payload, 4096)
    assert isinstance(refusal, Refusal)
    assert refusal.id == request_id
    assert reason in refusal.reason


def test_reply_shapes() -> None:
    assert json.loads(reply_ok("r1", {"run_id": 3})) == {
        "id": "r1",
        "ok": True,
        "result": {"run_id": 3},
    }
    assert json.loads(reply_error(None, "no")) == {"id": None, "ok": False, "error": "no"}


def test_fifo_queues_drop_their_oldest_and_count_it() -> None:
    outbox = Outbox(TOPICS, queue_max=3, telemetry_interval_s=0)
    for n in range(5):
        outbox.put_event("kiln1", {"n": n})
    assert outbox.dropped == {"state": 0, "replies": 0, "events": 2, "telemetry": 0}
    sent = []
    while (item := outbox.peek()) is not None:
        sent.append(json.loads(item.payload)["n"])
        assert (item.topic, item.qos, item.retain) == ("labctl/studio/events/kiln1", 1, False)
        outbox.done(item)
    assert sent == [2, 3, 4]


def test_a_message_dropped_while_in_flight_is_not_removed_twice() -> None:
    outbox = Outbox(TOPICS, queue_max=2, telemetry_interval_s=0)
    outbox.put_event("kiln1", {"n": 0})
    outbox.put_event("kiln1", {"n": 1})
    in_flight = outbox.peek()
    assert in_flight is not None
    outbox.put_event("kiln1", {"n": 2})  # overflow drops n=0, the one being published
    outbox.done(in_flight)
    assert outbox.depth()["events"] == 2
    assert outbox.dropped["events"] == 1


def test_state_is_coalesced_resent_only_on_change_and_republished_on_connect() -> None:
    outbox = Outbox(TOPICS, queue_max=10, telemetry_interval_s=0)
    assert outbox.put_state("kiln1", {"state": "idle"})
    assert outbox.put_state("kiln1", {"state": "heating"})
    item = outbox.peek()
    assert item is not None
    assert (item.topic, item.payload, item.qos, item.retain) == (
        "labctl/studio/state/kiln1",
        b'{"state":"heating"}',
        1,
        True,
    )
    outbox.done(item)
    assert outbox.peek() is None
    assert not outbox.put_state("kiln1", {"state": "heating"})  # unchanged: nothing to send
    outbox.republish_states()
    again = outbox.peek()
    assert again is not None and again.payload == b'{"state":"heating"}'


def test_a_state_replaced_while_in_flight_is_still_sent() -> None:
    outbox = Outbox(TOPICS, queue_max=10, telemetry_interval_s=0)
    outbox.put_state("kiln1", {"state": "idle"})
    in_flight = outbox.peek()
    assert in_flight is not None
    outbox.put_state("kiln1", {"state": "heating"})
    outbox.done(in_flight)
    newer = outbox.peek()
    assert newer is not None and newer.payload == b'{"state":"heating"}'


def test_state_and_replies_go_before_events_and_telemetry() -> None:
    outbox = Outbox(TOPICS, queue_max=10, telemetry_interval_s=0)
    outbox.put_telemetry("kiln1", {"pv_c": 20}, now=0)
    outbox.put_event("kiln1", {"kind": "alarm"})
    outbox.put_reply("alice", b"{}")
    outbox.put_state("kiln1", {"state": "idle"})
    order = []
    while (item := outbox.peek()) is not None:
        order.append(item.queue)
        outbox.done(item)
    assert order == ["state", "replies", "events", "telemetry"]


def test_telemetry_is_limited_to_one_reading_per_machine_per_interval() -> None:
    outbox = Outbox(TOPICS, queue_max=10, telemetry_interval_s=5.0)
    accepted = [outbox.put_telemetry("kiln1", {"t": t}, now=t) for t in (0.0, 1.0, 4.9, 5.0)]
    assert accepted == [True, False, False, True]
    assert outbox.put_telemetry("caster1", {"t": 1}, now=1.0)
    assert outbox.throttled == 2
    item = outbox.peek()
    assert item is not None and (item.qos, item.retain) == (0, False)


def test_the_number_of_machines_with_state_is_bounded_too() -> None:
    outbox = Outbox(TOPICS, queue_max=2, telemetry_interval_s=0)
    assert outbox.put_state("a", {"s": 1})
    assert outbox.put_state("b", {"s": 1})
    assert not outbox.put_state("c", {"s": 1})
    assert outbox.dropped["state"] == 1


def test_rate_limit_allows_a_burst_then_the_rate() -> None:
    limit = RateLimit(burst=2, per_s=1.0)
    assert [limit.allow("alice", 0.0) for _ in range(3)] == [True, True, False]
    assert limit.allow("bob", 0.0)  # per user
    assert not limit.allow("alice", 0.5)
    assert limit.allow("alice", 1.6)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 2.0), (4, 4.0, 8.0), (10, 30.0, 60.0), (500, 30.0, 60.0)],
)
def test_backoff_doubles_to_the_cap_with_jitter(failures: int, low: float, high: float) -> None:
    assert backoff_s(failures, 1.0, 60.0, 0.0) == low
    assert backoff_s(failures, 1.0, 60.0, 1.0) == high


class Bump(Payload):
    by: int = 1


def _gate(calls: list[Caller], *, burst: int = 5) -> CommandGate:
    registry = CommandRegistry()

    async def bump(payload: Bump, caller: Caller) -> Mapping[str, object]:
        calls.append(caller)
        if payload.by < 0:
            raise CommandRefused("cannot count down while a run is active")
        if payload.by == 0:
            raise RuntimeError("bug")
        return {"by": payload.by}

    registry.register("bump", Bump, Role.TECHNICIAN, bump, "count up")
    users = {"alice": Role.TECHNICIAN, "oscar": Role.OBSERVER}
    return CommandGate(registry, users, max_payload_bytes=200, burst=burst, monotonic=lambda: 0.0)


async def test_an_authorised_command_is_dispatched_as_its_topic_user() -> None:
    calls: list[Caller] = []
    reply = await _gate(calls).handle("alice", b'{"id": "r1", "command": "bump", "args": {}}')
    assert json.loads(reply) == {"id": "r1", "ok": True, "result": {"by": 1}}
    assert calls == [Caller("alice", Role.TECHNICIAN)]


@pytest.mark.parametrize(
    ("user", "payload", "retained", "reason", "ran"),
    [
        ("oscar", b'{"id": "r1", "command": "bump"}', False, "bump needs a technician", False),
        ("alice", b'{"id": "r1", "command": "bump"}', True, "retained commands", False),
        ("alice", b'{"id": "r1", "command": "fly"}', False, "unknown command 'fly'", False),
        ("alice", b'{"id": "r1", "command": "bump", "args": {"by": 1.5}}', False, "by:", False),
        ("alice", b"{" + b" " * 300 + b"}", False, "the limit is 200", False),
        (
            "alice",
            b'{"id": "r1", "command": "bump", "args": {"by": -1}}',
            False,
            "count down",
            True,
        ),
        ("alice", b'{"id": "r1", "command": "bump", "args": {"by": 0}}', False, "internal", True),
    ],
)
async def test_refusals_answer_with_the_reason(
    user: str, payload: bytes, retained: bool, reason: str, ran: bool
) -> None:
    calls: list[Caller] = []
    reply = json.loads(await _gate(calls).handle(user, payload, retained=retained))
    assert reply["ok"] is False
    assert reason in reply["error"]
    assert bool(calls) is ran  # the handler runs only when the registry let it through


async def test_commands_over_the_rate_are_refused() -> None:
    calls: list[Caller] = []
    gate = _gate(calls, burst=2)
    replies = [
        json.loads(await gate.handle("alice", b'{"id": "r", "command": "bump"}')) for _ in range(3)
    ]
    assert [r["ok"] for r in replies] == [True, True, False]
    assert "too many commands" in replies[2]["error"]
    assert len(calls) == 2


async def test_bridge_publish_calls_only_queue_and_count_drops() -> None:
    now = [0.0]
    settings = MqttSettings(lab="studio", host="unused", queue_max=2, telemetry_interval_s=1.0)
    bridge = MqttBridge(settings, CommandRegistry(), {}, monotonic=lambda: now[0])
    for n in range(3):
        now[0] = 2.0 * n
        bridge.publish_event("kiln1", {"n": n})
        bridge.publish_telemetry("kiln1", {"n": n})
    now[0] += 0.5
    bridge.publish_telemetry("kiln1", {"n": 9})  # within the interval of the last one
    bridge.publish_state("kiln1", {"state": "idle"})
    assert bridge.dropped == {
        "state": 0,
        "replies": 0,
        "events": 1,
        "telemetry": 1,
        "commands": 0,
        "unknown_users": 0,
        "client_queue": 0,
    }
    assert bridge.throttled == 1
    assert bridge.depth() == {
        "state": 1,
        "replies": 0,
        "events": 2,
        "telemetry": 2,
        "commands": 0,
    }
    assert not bridge.connected
