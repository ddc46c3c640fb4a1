"""MQTT commands that cannot hurt: the gate's order of work, stale commands, hostile payloads.

Issue 11: one 2 KB ``[[[...]]]`` on ``cmd/<anyone>`` raised RecursionError out of the gate and
killed the command worker; unknown users were answered (and logged) per message; a command
published while labctl was down ran when it came back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.telemetry.mqtt_commands import NO_REPLY, CommandGate
from labctl.telemetry.mqtt_topics import CommandRequest, Refusal, parse_command

NESTED = b"[" * 1000 + b"]" * 1000  # 2 KB, 1,000 levels: RecursionError in json.loads
WALL = 1_700_000_000.0


class Bump(Payload):
    by: int = 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def registry(calls: list[Caller]) -> CommandRegistry:
    reg = CommandRegistry()

    async def bump(payload: Bump, caller: Caller) -> Mapping[str, object]:
        calls.append(caller)
        if payload.by == 0:
            raise RuntimeError("bug")
        if payload.by < 0:
            raise CommandRefused("cannot count down")
        return {"by": payload.by}

    reg.register("bump", Bump, Role.TECHNICIAN, bump, "count up")
    return reg


def gate(calls: list[Caller], clock: Clock | None = None, *, burst: int = 5) -> CommandGate:
    clock = clock or Clock()
    users = {"tech": Role.TECHNICIAN, "ana": Role.TECHNICIAN}
    return CommandGate(
        registry(calls), users, max_payload_bytes=4096, burst=burst, monotonic=clock, wall=clock
    )


def bump(request_id: str = "r1", **extra: object) -> bytes:
    return json.dumps({"id": request_id, "command": "bump", **extra}).encode()


def decoded(reply: bytes) -> dict[str, Any]:
    document = json.loads(reply)
    assert isinstance(document, dict)
    return document


def test_a_deeply_nested_payload_is_refused_not_raised() -> None:
    refusal = parse_command(NESTED, 4096)
    assert isinstance(refusal, Refusal)
    assert "nested deeper than 16 levels" in refusal.reason


async def test_a_deeply_nested_payload_from_a_known_user_gets_a_refusal() -> None:
    calls: list[Caller] = []
    reply = decoded(await gate(calls).handle("tech", NESTED))
    assert reply == {"id": None, "ok": False, "error": reply["error"]}
    assert "nested deeper" in reply["error"]
    assert calls == []


async def test_an_unknown_user_gets_no_reply_whatever_it_sends() -> None:
    calls: list[Caller] = []
    g = gate(calls)
    for payload in (NESTED, bump(), b"\xff" * 10_000):
        assert await g.handle("mallory", payload) == NO_REPLY
    assert g.unknown_dropped == 3
    assert calls == []


async def test_unknown_users_are_logged_once_a_minute_at_most(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="labctl.telemetry.mqtt_commands")
    clock = Clock()
    g = gate([], clock)
    for n in range(3000):
        g.admit(f"stranger{n % 7}")
    assert len(caplog.records) == 1
    assert "not in this lab's users" in caplog.records[0].getMessage()
    clock.now = 61.0
    g.admit("stranger0")
    assert len(caplog.records) == 2
    assert "ignored 3000 more commands" in caplog.records[1].getMessage()
    assert g.unknown_dropped == 3001


async def test_the_rate_limit_comes_before_parsing() -> None:
    calls: list[Caller] = []
    g = gate(calls, burst=2)
    replies = [decoded(await g.handle("tech", bump(f"r{n}"))) for n in range(2)]
    assert all(r["ok"] for r in replies)
    over = decoded(await g.handle("tech", NESTED))
    assert "too many commands from tech" in over["error"]  # not "nested": never parsed
    assert g.rate_limited == 1
    assert decoded(await g.handle("ana", bump()))["ok"]  # per user


async def test_an_unexpected_error_anywhere_is_an_internal_error_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Caller] = []
    g = gate(calls)
    reply = decoded(await g.handle("tech", bump(args={"by": 0})))
    assert reply["id"] == "r1" and "internal error" in reply["error"]

    async def broken(*_: object) -> bytes:
        raise RecursionError("deep")

    monkeypatch.setattr(g, "_run", broken)
    reply = decoded(await g.handle("tech", bump()))
    assert reply["ok"] is False and "internal error: RecursionError" in reply["error"]


async def test_a_command_sent_before_its_deadline_runs() -> None:
    clock = Clock()
    clock.now = WALL
    calls: list[Caller] = []
    reply = decoded(await gate(calls, clock).handle("tech", bump(sent_at=WALL - 3.5)))
    assert reply == {"id": "r1", "ok": True, "result": {"by": 1}}


async def test_a_stale_command_is_refused_with_its_age() -> None:
    clock = Clock()
    clock.now = WALL
    calls: list[Caller] = []
    g = gate(calls, clock)
    reply = decoded(await g.handle("tech", bump(sent_at=WALL - 42)))
    assert reply == {
        "id": "r1",
        "ok": False,
        "error": f"stale: sent 42 s ago (deadline {COMMAND_DEADLINE_S:g} s)",
    }
    assert reply["error"] == "stale: sent 42 s ago (deadline 10 s)"
    assert calls == [] and g.stale == 1


async def test_a_command_from_a_clock_far_ahead_is_refused() -> None:
    clock = Clock()
    clock.now = WALL
    reply = decoded(await gate([], clock).handle("tech", bump(sent_at=WALL + 3600)))
    assert "in the future: check the sender's clock" in reply["error"]


async def test_a_command_that_waited_too_long_in_labctl_is_stale() -> None:
    g = gate([])
    reply = decoded(await g.run("tech", bump(), waited_s=COMMAND_DEADLINE_S + 1))
    assert reply["error"] == "stale: waited 11 s in labctl's queue (deadline 10 s)"


@pytest.mark.parametrize("sent_at", ['"yesterday"', "true", "1e999", "[1]"])
def test_sent_at_must_be_a_finite_number(sent_at: str) -> None:
    payload = f'{{"id": "r1", "command": "bump", "sent_at": {sent_at}}}'.encode()
    refusal = parse_command(payload, 4096)
    assert isinstance(refusal, Refusal) and "sent_at" in refusal.reason


# ------------------------------------------------------------------ hypothesis

DEPTHS = st.integers(0, 5000)


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    """Deeply nested, huge, binary, or JSON of odd types and shapes."""
    kind = draw(st.sampled_from(["nested", "huge", "binary", "odd"]))
    if kind == "nested":
        depth = draw(DEPTHS)
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"args":', "}")]))
        inner = draw(st.sampled_from(["", "1", '"x"', "null"]))
        closed = draw(st.booleans())
        return (opener * depth + inner + (closer * depth if closed else "")).encode()
    if kind == "huge":
        return draw(st.sampled_from([b"[", b"\xff", b" ", b'"a",'])) * draw(st.integers(1, 70_000))
    if kind == "binary":
        return draw(st.binary(max_size=3000))
    odd = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=20,
    )
    document = draw(
        odd
        | st.fixed_dictionaries(
            {"id": odd, "command": odd},
            optional={"args": odd, "sent_at": odd},
        )
    )
    return json.dumps(document).encode()


@settings(max_examples=300, deadline=None)
@given(payload=hostile())
def test_parse_command_never_raises(payload: bytes) -> None:
    outcome = parse_command(payload, 4096)
    assert isinstance(outcome, CommandRequest | Refusal)
    if isinstance(outcome, Refusal):
        assert outcome.reason.strip()
