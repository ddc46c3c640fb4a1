"""MQTT commands: arbitrary topics, payload bytes and retain flags through the command gate.

Property: a message from a user not in the lab's users gets no reply at all; every other
message on ``cmd/<user>`` gets a JSON reply; a refusal (``ok: false`` with a reason) never
reaches the registry, and a dispatch happens only for a known user whose role allows the
command, as that user, with a payload validated by the command's model. The gate never raises,
whatever the bytes (deeply nested, huge, binary).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re

from hypothesis import event, example, given
from hypothesis import strategies as st

from labctl.config.users import Role
from labctl.telemetry.mqtt_commands import NO_REPLY, CommandGate
from labctl.telemetry.mqtt_topics import Topics
from tests.fuzz.support import JSON, fuzz, populated_registry, requests_for

REGISTRY = populated_registry()
USERS = {"sup": Role.SUPERVISOR, "tech": Role.TECHNICIAN, "obs": Role.OBSERVER}
SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
TOPICS = Topics("lab1")


def _sometimes(draw: st.DrawFn) -> bool:
    return draw(st.integers(0, 4)) == 0


@st.composite
def command_payloads(draw: st.DrawFn) -> bytes:
    """A command document, mostly well-formed with one thing maybe wrong; or any bytes."""
    if _sometimes(draw):
        return draw(st.binary(max_size=200) | JSON.map(lambda j: json.dumps(j).encode()))
    command, args = draw(requests_for(REGISTRY))
    document: dict[str, object] = {"id": draw(st.text(min_size=1, max_size=8)), "command": command}
    if args or _sometimes(draw):
        document["args"] = args
    for key in ("id", "command", "args"):
        if _sometimes(draw):
            document[key] = draw(st.text(max_size=70) | JSON)
    if _sometimes(draw):
        document.pop(draw(st.sampled_from(sorted(document))))
    if _sometimes(draw):
        document[draw(st.text(max_size=6))] = draw(JSON)
    return json.dumps(document).encode()


@fuzz(250)
@given(
    user=st.sampled_from(sorted(USERS)) | st.text(max_size=10),
    payload=command_payloads(),
    retained=st.booleans(),
)
def test_a_command_message_is_refused_or_dispatched_only_as_allowed(
    user: str, payload: bytes, retained: bool
) -> None:
    ticks = itertools.count(step=10.0)  # far apart: the rate limit is tested elsewhere
    gate = CommandGate(REGISTRY, USERS, monotonic=lambda: next(ticks))
    before = len(REGISTRY.calls)
    raw = asyncio.run(gate.handle(user, payload, retained=retained))
    if user not in USERS:
        assert raw == NO_REPLY and len(REGISTRY.calls) == before
        event("unknown user: no reply")
        return
    reply = json.loads(raw)
    assert set(reply) in ({"id", "ok", "error"}, {"id", "ok", "result"})
    assert reply["id"] is None or isinstance(reply["id"], str)
    if not reply["ok"]:
        assert len(REGISTRY.calls) == before, "a refused command reached the registry"
        assert isinstance(reply["error"], str) and reply["error"].strip()
        event("refused")
        return
    event("dispatched")
    assert len(REGISTRY.calls) == before + 1
    call = REGISTRY.calls[-1]
    assert not retained and user in USERS
    assert call.caller.name == user and call.caller.role == USERS[user]
    assert USERS[user] >= REGISTRY.roles[call.command]
    assert type(call.payload) is REGISTRY.models[call.command]
    assert reply["result"] == {"spied": call.command}
    request = json.loads(payload)
    assert (request["id"], request["command"]) == (reply["id"], call.command)


@fuzz(500)
@example(topic="labctl/lab1/cmd/tech\n")
@given(
    topic=st.one_of(
        st.text(max_size=40),
        st.builds(
            "{}{}".format,
            st.sampled_from(["labctl/lab1/cmd/", "labctl/lab2/cmd/", "labctl/lab1/"]),
            st.text(max_size=70),
        ),
    )
)
def test_only_a_command_topic_of_this_lab_names_a_user(topic: str) -> None:
    user = TOPICS.user_of_command(topic)
    if user is None:
        return
    assert SEGMENT.fullmatch(user)
    assert topic == TOPICS.command(user)


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    """Deeply nested (closed or not), huge, or binary bytes; or JSON of any shape."""
    kind = draw(st.sampled_from(["nested", "huge", "binary", "json"]))
    if kind == "nested":
        depth = draw(st.integers(0, 20_000))
        opener = draw(st.sampled_from(["[", '{"a":', '{"id":"x","command":"status","args":{"a":']))
        return (opener * depth + "0" + "]}"[opener != "["] * draw(st.integers(0, depth))).encode()
    if kind == "huge":
        unit = draw(st.sampled_from([b"[", b"{", b"\xff", b'"\\', b"0,"]))
        return unit * draw(st.integers(1, 200_000))
    if kind == "binary":
        return draw(st.binary(max_size=5000))
    return json.dumps(draw(JSON)).encode()


@fuzz(200, deadline=None)
# issue 11: RecursionError out of the gate killed the command worker, before the user check
@example(user="tech", payload=b"[" * 1000 + b"]" * 1000, retained=False)
@example(user="nobody", payload=b"[" * 1000 + b"]" * 1000, retained=False)
@given(
    user=st.sampled_from(sorted(USERS)) | st.text(max_size=10),
    payload=hostile_payloads(),
    retained=st.booleans(),
)
def test_the_gate_never_raises_and_answers_known_users(
    user: str, payload: bytes, retained: bool
) -> None:
    ticks = itertools.count(step=10.0)
    gate = CommandGate(REGISTRY, USERS, monotonic=lambda: next(ticks))
    raw = asyncio.run(gate.handle(user, payload, retained=retained))
    if user not in USERS:
        assert raw == NO_REPLY
        return
    reply = json.loads(raw)
    assert reply["ok"] is False or not retained
    if not reply["ok"]:
        assert isinstance(reply["error"], str) and reply["error"].strip()
