"""What a careless or hostile client cannot do to the touchscreen server (issue 11): bodies that
are deep or huge, sign-in bursts, a proxy on the same host, a command that breaks, a request
that goes away mid-command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import WSServerHandshakeError

from labctl.commands.queue import CommandQueue
from labctl.commands.registry import Caller, Payload
from labctl.config.users import Role
from labctl.web.lockout import ADDRESS_FREE

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Lab, Serve

NESTED = b'{"badge": "1001", "pin": ' + b"[" * 1000 + b"]" * 1000 + b"}"
WAIT_S = 10.0


async def test_nested_json_on_sign_in_is_400_with_the_reason(serve: Serve) -> None:
    served = await serve()
    resp = await served.client.post("/api/signin", data=NESTED)
    assert "nested deeper than" in await served.refusal(resp, 400)
    await served.sign_in()  # the server is fine, and nothing was counted


async def test_nested_json_as_a_command_is_400_with_the_reason(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    deep: dict[str, object] = {"kiln": "kiln1"}
    for _ in range(20):
        deep = {"x": deep}
    resp = await served.command("hold", deep, csrf)
    reason = await served.refusal(resp, 400)
    assert "not a JSON object" in reason and "nested deeper than" in reason
    assert lab.calls == []


async def test_a_body_over_the_limit_is_413_as_json(serve: Serve) -> None:
    served = await serve()
    resp = await served.client.post("/api/signin", data=b"[" + b"1," * 40_000 + b"1]")
    assert await served.refusal(resp, 413)


async def test_concurrent_sign_ins_for_one_badge_get_one_check(serve: Serve) -> None:
    served = await serve()

    async def attempt(pin: str) -> tuple[int, str]:
        resp = await served.client.post("/api/signin", json={"badge": "1001", "pin": pin})
        return resp.status, (await resp.json())["error"]

    answers = await asyncio.gather(*(attempt(f"{i:04d}") for i in range(20)))
    assert sorted(set(answers)) == [
        (401, "wrong badge or PIN"),
        (409, "a sign-in for badge 1001 is being checked"),
    ]
    assert sum(1 for a in answers if a[0] == 401) == 1


async def test_behind_a_proxy_on_this_host_nothing_is_shown_before_sign_in(
    serve: Serve, lab: Lab
) -> None:
    served = await serve(behind_proxy=True)  # host 127.0.0.1: the proxy's usual setup
    session = await served.session()
    assert session["user"] is None and session["view_without_signin"] is False
    resp = await served.client.get("/api/kiln/kiln1/series")
    assert "sign in" in await served.refusal(resp, 401)
    with pytest.raises(WSServerHandshakeError) as refused:
        await served.client.ws_connect("/ws")
    assert refused.value.status == 401
    resp = await served.command("start_options", {}, "x")
    await served.refusal(resp, 401)
    await served.sign_in()  # signed in, the lab is there
    assert (await served.client.get("/api/kiln/kiln1/series")).status == 200
    ws = await served.client.ws_connect("/ws")
    assert (await ws.receive_json(timeout=WAIT_S))["type"] == "full"
    await ws.close()


async def test_behind_a_proxy_each_forwarded_address_is_counted(serve: Serve) -> None:
    served = await serve(behind_proxy=True)

    async def wrong(badge: str, forwarded: str) -> int:
        headers = {"X-Forwarded-For": forwarded}
        body = {"badge": badge, "pin": "0000"}
        return (await served.client.post("/api/signin", json=body, headers=headers)).status

    for i in range(ADDRESS_FREE + 1):  # one PIN on many badges, from one address
        assert await wrong(f"7{i:03d}", "10.1.1.1, 203.0.113.5") == 401
    assert await wrong("6000", "203.0.113.5") == 429  # the proxy's last entry is what counts
    assert await wrong("6000", "203.0.113.6") == 401  # another browser is not slowed


class Nothing(Payload):
    pass


async def test_a_command_that_breaks_is_500_logged_once_and_the_server_goes_on(
    serve: Serve, lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_: Nothing, __: Caller) -> Mapping[str, object]:
        raise RuntimeError("a bug")

    lab.registry.register("broken", Nothing, Role.TECHNICIAN, broken, "always fails")
    served = await serve()
    csrf = await served.sign_in()
    with caplog.at_level(logging.ERROR):
        reason = await served.refusal(await served.command("broken", {}, csrf), 500)
    assert "internal error" in reason and "RuntimeError" in reason
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, caplog.text
    lab.set_state("running")
    assert (await served.command("hold", {"kiln": "kiln1"}, csrf)).status == 200


async def test_a_handler_that_breaks_is_500_logged_once(
    serve: Serve, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = await serve()

    def broken(*_: object) -> None:
        raise KeyError("a bug in the view")

    monkeypatch.setattr(served.view, "series", broken)
    await served.sign_in()
    with caplog.at_level(logging.ERROR):
        resp = await served.client.get("/api/kiln/kiln1/series")
    assert "internal error (KeyError)" in await served.refusal(resp, 500)
    assert sum(1 for r in caplog.records if r.exc_info) == 1, caplog.text
    assert (await served.session())["user"] is not None  # the server goes on


async def test_a_command_whose_request_went_away_leaves_no_error_behind(
    serve: Serve, lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """The browser goes away while its command waits in a machine's queue (the server cancels
    the handler): the loop then takes its queue without aiohttp's InvalidStateError."""
    queue = CommandQueue("kiln9")
    carried_out: list[str] = []

    async def action() -> dict[str, object]:
        carried_out.append("held")
        return {}

    async def queued(_: Nothing, __: Caller) -> Mapping[str, object]:
        return await queue.submit(action)

    lab.registry.register("queued", Nothing, Role.TECHNICIAN, queued, "waits for the loop")
    served = await serve()
    csrf = await served.sign_in()
    request = asyncio.create_task(served.command("queued", {}, csrf))
    server: Any = served.client.server.runner.server  # type: ignore[union-attr]
    async with asyncio.timeout(WAIT_S):
        while not server.connections or queue._queue.empty():
            await asyncio.sleep(0.01)
        request.cancel()  # the browser goes away: the server cancels the handler
        while server.connections:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the handler's cancellation runs
    with caplog.at_level(logging.INFO):
        await queue.run_pending()  # the loop's next turn
    assert carried_out == []  # never carried out after its sender went away
    assert "InvalidStateError" not in caplog.text and "never retrieved" not in caplog.text
    assert (await served.session())["user"] is not None
