"""The MQTT bridge against a real Mosquitto with the ACL example from systemd/."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from hil_tests.support.mqtt_service import Broker, example_acl, mosquitto
from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.telemetry.mqtt import MqttBridge, MqttSettings

pytestmark = [pytest.mark.hil, pytest.mark.timeout(60)]

PASSWORDS = {
    "labctl-studio": "pw-labctl",
    "alice": "pw-alice",
    "bob": "pw-bob",
    "labctl-annex": "pw-annex",
    "carol": "pw-carol",
}
USERS = {"alice": Role.TECHNICIAN}  # bob is in the broker's ACL but not in labctl's users
ROOT = "labctl/studio"


class Bump(Payload):
    by: int = 1


@dataclass
class Lab:
    broker: Broker
    bridge: MqttBridge
    settings: MqttSettings
    calls: list[tuple[str, Caller]] = field(default_factory=list)

    async def wait_connected(self, up: bool = True, timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s):
            while self.bridge.connected is not up:
                await asyncio.sleep(0.02)


def _registry(calls: list[tuple[str, Caller]]) -> CommandRegistry:
    registry = CommandRegistry()

    async def bump(payload: Bump, caller: Caller) -> Mapping[str, object]:
        calls.append(("bump", caller))
        return {"count": len(calls), "by": payload.by}

    async def reset(payload: Payload, caller: Caller) -> Mapping[str, object]:
        calls.append(("reset", caller))
        return {}

    registry.register("bump", Bump, Role.TECHNICIAN, bump, "count up")
    registry.register("reset", Payload, Role.SUPERVISOR, reset, "start again")
    return registry


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with mosquitto(tmp_path / "broker", users=PASSWORDS, acl=example_acl()) as broker:
        calls: list[tuple[str, Caller]] = []
        settings = MqttSettings(
            lab="studio",
            host="127.0.0.1",
            port=broker.port,
            username="labctl-studio",
            password=PASSWORDS["labctl-studio"],
            client_id="labctl-studio",
            keepalive_s=5,
            telemetry_interval_s=0.0,
            heartbeat_s=0.2,
            heartbeat_timeout_s=0.5,
            timeout_s=1.0,
            backoff_min_s=0.05,
            backoff_max_s=0.4,
        )
        bridge = MqttBridge(settings, _registry(calls), USERS)
        task = asyncio.create_task(bridge.run(), name="mqtt[studio]")
        result = Lab(broker, bridge, settings, calls)
        try:
            await result.wait_connected()
            yield result
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


@asynccontextmanager
async def person(broker: Broker, name: str) -> AsyncIterator[aiomqtt.Client]:
    client = aiomqtt.Client(
        "127.0.0.1", broker.port, username=name, password=PASSWORDS[name], identifier=name
    )
    async with client:
        yield client


async def messages(client: aiomqtt.Client, count: int, timeout_s: float) -> list[Any]:
    """Up to ``count`` messages (topic, decoded payload) received within ``timeout_s``."""
    got: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                text = message.payload.decode()
                got.append((message.topic.value, json.loads(text) if text[:1] == "{" else text))
                if len(got) == count:
                    break
    except TimeoutError:
        pass
    return got


async def command(lab: Lab, name: str, payload: bytes) -> dict[str, Any]:
    """Publish ``payload`` on cmd/<name> as ``name``; the reply on reply/<name>."""
    async with person(lab.broker, name) as client:
        await client.subscribe(f"{ROOT}/reply/{name}", qos=1)
        await client.publish(f"{ROOT}/cmd/{name}", payload, qos=1)
        [(_, reply)] = await messages(client, 1, timeout_s=5)
    assert isinstance(reply, dict)
    return reply


async def test_state_is_retained_and_current_after_a_broker_restart(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labctl.telemetry.mqtt")
    lab.bridge.publish_state("kiln1", {"state": "idle", "pv_c": 21.5})
    lab.bridge.publish_state("kiln2", {"state": "off"})  # does not change while the broker is down
    async with person(lab.broker, "alice") as alice:
        await alice.subscribe(f"{ROOT}/state/#", qos=1)
        assert dict(await messages(alice, 2, 5)) == {
            f"{ROOT}/state/kiln1": {"state": "idle", "pv_c": 21.5},
            f"{ROOT}/state/kiln2": {"state": "off"},
        }

    await lab.broker.stop()
    await lab.wait_connected(up=False)
    lab.bridge.publish_state("kiln1", {"state": "heating", "pv_c": 300.0})
    lab.bridge.publish_state("caster1", {"state": "ready"})
    await asyncio.sleep(1.0)  # several failed attempts while the broker is down
    await lab.broker.start()  # same port, and it has forgotten every retained message
    await lab.wait_connected()

    async with person(lab.broker, "alice") as fresh:
        await fresh.subscribe(f"{ROOT}/state/#", qos=1)
        await fresh.subscribe(f"{ROOT}/status", qos=1)
        got = dict(await messages(fresh, 4, 5))
    assert got == {
        f"{ROOT}/state/kiln1": {"state": "heating", "pv_c": 300.0},
        f"{ROOT}/state/kiln2": {"state": "off"},
        f"{ROOT}/state/caster1": {"state": "ready"},
        f"{ROOT}/status": "online",
    }
    text = caplog.text
    assert text.count("lost") == 1, text  # logged once, not per retry
    assert text.count("back after") == 1, text


async def test_authorised_command_reaches_the_registry_and_is_answered(lab: Lab) -> None:
    reply = await command(lab, "alice", b'{"id": "r1", "command": "bump", "args": {"by": 2}}')
    assert reply == {"id": "r1", "ok": True, "result": {"count": 1, "by": 2}}
    assert lab.calls == [("bump", Caller("alice", Role.TECHNICIAN))]


@pytest.mark.parametrize(
    ("user", "payload", "reply_id", "reason"),
    [
        ("alice", b"bump please", None, "not JSON"),
        ("alice", b'{"id": "r2", "command": "bump", "sudo": true}', "r2", "sudo: Extra inputs"),
        ("alice", b'{"id": "r3", "command": "bump", "args": {"by": "x"}}', "r3", "by: Input"),
        ("alice", b'{"id": "r4", "command": "reset"}', "r4", "reset needs a supervisor"),
        ("alice", b"[" * 1000 + b"]" * 1000, None, "nested deeper than 16 levels"),
        ("alice", b'{"id": "r6", "command": "bump", "sent_at": 1000.0}', "r6", "stale: sent"),
    ],
    ids=["not-json", "extra-field", "bad-args", "role-lacking", "nested", "stale"],
)
async def test_bad_commands_are_refused_with_a_reason_and_change_nothing(
    lab: Lab, user: str, payload: bytes, reply_id: str | None, reason: str
) -> None:
    reply = await command(lab, user, payload)
    assert reply["ok"] is False
    assert reply["id"] == reply_id
    assert reason in reply["error"]
    assert lab.calls == []


async def test_an_unknown_users_flood_is_dropped_silently_and_the_technician_answered(
    lab: Lab,
) -> None:
    """Issue 11: 3,000 QoS-0 messages from a user labctl does not know (bob) left alice's five
    commands with one or two replies; a 1,000-level nested message killed the command worker."""
    async with person(lab.broker, "bob") as bob, person(lab.broker, "alice") as alice:
        await bob.subscribe(f"{ROOT}/reply/bob", qos=1)
        await alice.subscribe(f"{ROOT}/reply/alice", qos=1)
        await bob.publish(f"{ROOT}/cmd/bob", b"[" * 1000 + b"]" * 1000, qos=1)
        for n in range(3000):
            await bob.publish(f"{ROOT}/cmd/bob", b'{"id": "b", "command": "bump"}', qos=0)
            if n % 600 == 300:
                request = {"id": f"a{n // 600}", "command": "bump"}
                await alice.publish(f"{ROOT}/cmd/alice", json.dumps(request).encode(), qos=1)
        replies = await messages(alice, 5, timeout_s=10)
        assert await messages(bob, 1, timeout_s=0.5) == []
    assert [r["id"] for _, r in replies] == [f"a{n}" for n in range(5)]
    assert all(r["ok"] for _, r in replies)
    assert lab.calls == [("bump", Caller("alice", Role.TECHNICIAN))] * 5
    dropped = lab.bridge.dropped
    assert dropped["unknown_users"] + dropped["client_queue"] >= 3001 - 50  # QoS 0 may be lost
    assert dropped["unknown_users"] > 0
    assert lab.bridge.connected  # still up, still serving


async def test_commands_published_while_labctl_was_away_are_not_run_when_it_returns(
    lab: Lab,
) -> None:
    """A clean session: the broker keeps no backlog of commands for labctl."""
    for task in asyncio.all_tasks():
        if task.get_name() == "mqtt[studio]":
            task.cancel()
    await lab.wait_connected(up=False)
    async with person(lab.broker, "alice") as alice:
        await alice.subscribe(f"{ROOT}/reply/alice", qos=1)
        await alice.publish(f"{ROOT}/cmd/alice", b'{"id": "late", "command": "bump"}', qos=1)
        again = MqttBridge(lab.settings, _registry(lab.calls), USERS)
        task = asyncio.create_task(again.run())
        try:
            async with asyncio.timeout(10):
                while not again.connected:
                    await asyncio.sleep(0.02)
            assert await messages(alice, 1, timeout_s=1.0) == []
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert lab.calls == []


async def test_broker_drops_a_command_published_on_another_users_topic(lab: Lab) -> None:
    async with person(lab.broker, "bob") as bob:
        await bob.publish(f"{ROOT}/cmd/alice", b'{"id": "x", "command": "bump"}', qos=1)
    # alice's own command after bob's: once it is answered, bob's would have been seen
    reply = await command(lab, "alice", b'{"id": "fence", "command": "bump"}')
    assert reply["ok"] is True
    assert lab.calls == [("bump", Caller("alice", Role.TECHNICIAN))]
    assert "Denied PUBLISH from bob" in lab.broker.log()


async def test_a_client_of_another_lab_can_neither_read_nor_command_this_lab(lab: Lab) -> None:
    lab.bridge.publish_state("kiln1", {"state": "idle"})
    lab.bridge.publish_event("kiln1", {"kind": "run_started"})
    async with person(lab.broker, "alice") as alice:  # the positive control
        await alice.subscribe(f"{ROOT}/state/#", qos=1)
        assert len(await messages(alice, 1, 5)) == 1
    async with person(lab.broker, "carol") as carol:
        await carol.subscribe(f"{ROOT}/#", qos=1)
        await carol.subscribe("labctl/#", qos=1)
        await carol.publish(f"{ROOT}/cmd/carol", b'{"id": "c", "command": "bump"}', qos=1)
        lab.bridge.publish_state("kiln1", {"state": "heating"})
        assert await messages(carol, 1, 1.0) == []
    await command(lab, "alice", b'{"id": "fence", "command": "bump"}')
    assert [name for name, _ in lab.calls] == ["bump"]  # alice's only
    assert "Denied PUBLISH from carol" in lab.broker.log()


async def test_heartbeat_notices_a_silently_dead_connection(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    lab.broker.pause()  # the TCP connection stays open, but nothing answers any more
    try:
        await lab.wait_connected(up=False, timeout_s=5)  # paho's keepalive is 5 s: too slow
    finally:
        lab.broker.resume()
    assert "heartbeat not echoed" in caplog.text
    await lab.wait_connected(timeout_s=15)
    lab.bridge.publish_state("kiln1", {"state": "idle"})
    async with person(lab.broker, "alice") as alice:
        await alice.subscribe(f"{ROOT}/state/kiln1", qos=1)
        assert len(await messages(alice, 1, 5)) == 1


async def test_clean_shutdown_says_offline(lab: Lab) -> None:
    async with person(lab.broker, "alice") as alice:
        await alice.subscribe(f"{ROOT}/status", qos=1)
        assert await messages(alice, 1, 5) == [(f"{ROOT}/status", "online")]
        for task in asyncio.all_tasks():
            if task.get_name() == "mqtt[studio]":
                task.cancel()
        assert await messages(alice, 1, 5) == [(f"{ROOT}/status", "offline")]


async def test_a_login_the_acl_does_not_fit_never_counts_as_connected(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labctl.telemetry.mqtt")
    settings = MqttSettings(
        lab="studio",
        host="127.0.0.1",
        port=lab.broker.port,
        username="alice",  # a person's login: the broker drops its heartbeat
        password=PASSWORDS["alice"],
        client_id="misconfigured",
        heartbeat_timeout_s=0.2,
        backoff_min_s=0.05,
        backoff_max_s=0.2,
    )
    bridge = MqttBridge(settings, CommandRegistry(), USERS)
    seen_connected = False
    task = asyncio.create_task(bridge.run())
    for _ in range(75):  # 1.5 s: several attempts
        seen_connected |= bridge.connected
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not seen_connected
    warnings = [r.getMessage() for r in caplog.records if r.name == "labctl.telemetry.mqtt"]
    assert len(warnings) == 1, warnings  # logged once, not per attempt
    assert "cannot connect" in warnings[0] and "heartbeat not echoed" in warnings[0]
    assert lab.broker.log().count("as misconfigured") > 2
