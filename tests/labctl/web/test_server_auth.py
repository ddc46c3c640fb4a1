"""The touchscreen server's guards over real sockets: headers, sign-in, cookie, CSRF, origin.

Sessions run on a fake clock (the ``sessions`` and ``advance`` fixtures in conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from aiohttp import ClientResponse

from labctl.web.server import COOKIE
from labctl.web.signin import FREE_ATTEMPTS, Sessions

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Lab, Serve

# ---------------------------------------------------------------- headers and session


def assert_strict_headers(resp: ClientResponse) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, resp.url
    assert "unsafe-inline" not in csp and "http:" not in csp and "*" not in csp
    assert resp.headers.get("X-Frame-Options") == "DENY"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("Referrer-Policy") == "no-referrer"


async def test_every_answer_carries_the_security_headers(serve: Serve) -> None:
    served = await serve()
    client = served.client
    answers = [
        await client.get("/"),
        await client.get("/api/session"),
        await client.post("/api/signin", json={"badge": "1001", "pin": "0000"}),
        await served.command("hold", {"kiln": "kiln1"}, None),
        await client.post("/api/command/hold", headers={"Origin": "http://evil.example"}),
        await client.get("/api/kiln/nope/series"),
    ]
    assert [r.status for r in answers] == [200, 200, 401, 401, 403, 404]
    for resp in answers:
        assert_strict_headers(resp)
    for resp in answers[1:]:
        assert resp.headers.get("Cache-Control") == "no-store"


async def test_error_answers_from_aiohttp_carry_the_security_headers(serve: Serve) -> None:
    client = (await serve()).client
    answers = [
        await client.get("/no/such/page"),
        await client.get("/api/signin"),
        await client.post("/api/signin", data=b'{"badge": "' + b"1" * 70_000 + b'"}'),
    ]
    # aiohttp's own answers: no such route, no such method, a body over MAX_BODY
    assert [r.status for r in answers] == [404, 405, 413]
    for resp in answers:
        assert_strict_headers(resp)
    assert answers[2].headers.get("Cache-Control") == "no-store"


async def test_session_signed_out_then_in(serve: Serve) -> None:
    served = await serve(temperature_unit="F", idle_signout_s=120)
    assert await served.session() == {
        "user": None,
        "csrf": None,
        "lab": "test lab",
        "temperature_unit": "F",
        "idle_signout_s": 120,
        "view_without_signin": True,
    }
    csrf = await served.sign_in("2002", "1357")
    after = await served.session()
    assert after["user"] == {"name": "ben", "badge": "2002", "role": "supervisor"}
    assert after["csrf"] == csrf


async def test_the_session_cookie_is_httponly_and_samesite_strict(serve: Serve) -> None:
    client = (await serve()).client
    resp = await client.post("/api/signin", json={"badge": "1001", "pin": "2468"})
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http on loopback: a Secure cookie would never return
    assert cookie.value not in await resp.text()  # the token is never readable by scripts


async def test_behind_a_tls_proxy_the_cookie_is_secure(serve: Serve) -> None:
    served = await serve(host="0.0.0.0", behind_proxy=True)
    resp = await served.client.post("/api/signin", json={"badge": "1001", "pin": "2468"})
    assert resp.status == 200
    assert resp.cookies[COOKIE]["secure"]
    assert (await served.session())["user"]["name"] == "ana"  # the https browser sends it back


# ---------------------------------------------------------------- sign-in


async def test_wrong_pins_get_401_then_429_with_retry_after(serve: Serve) -> None:
    client = (await serve()).client
    for _ in range(FREE_ATTEMPTS + 1):
        resp = await client.post("/api/signin", json={"badge": "1001", "pin": "0000"})
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error": "wrong badge or PIN"}
        assert COOKIE not in resp.cookies
    resp = await client.post("/api/signin", json={"badge": "1001", "pin": "2468"})
    body = await resp.json()
    assert resp.status == 429, body
    assert body["retry_after_s"] >= 1
    assert resp.headers["Retry-After"] == str(body["retry_after_s"])
    assert f"try again in {body['retry_after_s']} s" in body["error"]
    assert COOKIE not in resp.cookies


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "badge"),
        (b"[1, 2]", "badge"),
        (json.dumps({"badge": "1001"}).encode(), "PIN"),
        (json.dumps({"badge": 1001, "pin": "2468"}).encode(), "badge"),
        (json.dumps({"badge": "1001", "pin": "2" * 65}).encode(), "PIN is too long"),
    ],
)
async def test_a_malformed_sign_in_is_400(serve: Serve, body: bytes, named: str) -> None:
    served = await serve()
    resp = await served.client.post("/api/signin", data=body)
    assert named in await served.refusal(resp, 400)


@pytest.mark.parametrize(
    "badge", ["10a1", "1001 ", "", "1" * 17, "-1001", "\u0661\u0660\u0660\u0661", "1001\n"]
)
async def test_a_badge_that_is_not_1_to_16_digits_is_400_and_never_checked(
    serve: Serve, badge: str
) -> None:
    served = await serve()
    for _ in range(FREE_ATTEMPTS + 2):  # as many wrong PINs would slow this client down
        resp = await served.client.post("/api/signin", json={"badge": badge, "pin": "2468"})
        assert "digits" in await served.refusal(resp, 400)
        assert COOKIE not in resp.cookies
    await served.sign_in()  # so the throttle never counted them


# ---------------------------------------------------------------- CSRF, origin, sign-out


async def test_without_or_with_a_wrong_csrf_token_403(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    for token in (None, csrf + "x"):
        resp = await served.command("hold", {"kiln": "kiln1"}, token)
        assert "CSRF" in await served.refusal(resp, 403)
    other = await served.sign_in("2002", "1357")  # a new session: the old token is not its
    assert other != csrf
    resp = await served.command("hold", {"kiln": "kiln1"}, csrf)
    assert "CSRF" in await served.refusal(resp, 403)
    assert lab.calls == []


@pytest.mark.parametrize("bad", ["http://evil.example", "null", "https://127.0.0.1:1"])
async def test_a_post_from_another_origin_is_403(serve: Serve, lab: Lab, bad: str) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    resp = await served.command("hold", {"kiln": "kiln1"}, csrf, Origin=bad)
    assert "another site" in await served.refusal(resp, 403)
    resp = await served.client.post(
        "/api/signin", json={"badge": "2002", "pin": "1357"}, headers={"Origin": bad}
    )
    assert "another site" in await served.refusal(resp, 403)
    assert lab.calls == []


async def test_not_signed_in_is_401(serve: Serve, lab: Lab) -> None:
    served = await serve()
    lab.set_state("running")
    resp = await served.command("hold", {"kiln": "kiln1"}, "x")
    assert "not signed in" in await served.refusal(resp, 401)
    resp = await served.client.post("/api/signout", headers={"X-CSRF-Token": "x"})
    assert resp.status == 401
    assert lab.calls == []


async def test_sign_out_ends_the_session(serve: Serve, lab: Lab) -> None:
    served = await serve()
    csrf = await served.sign_in()
    resp = await served.client.post(
        "/api/signout", headers={"X-CSRF-Token": csrf, "Origin": served.origin}
    )
    assert resp.status == 200 and await resp.json() == {}
    assert resp.cookies[COOKIE].value == ""  # the browser drops it
    assert (await served.session())["user"] is None
    lab.set_state("running")
    await served.refusal(await served.command("hold", {"kiln": "kiln1"}, csrf), 401)
    assert lab.calls == []


async def test_idle_sessions_end_and_commands_keep_them_alive(
    serve: Serve, lab: Lab, sessions: Sessions, advance: Callable[[float], None]
) -> None:
    served = await serve()
    csrf = await served.sign_in()
    lab.set_state("running")
    for _ in range(3):  # each command counts as activity
        advance(sessions.idle_s - 1)
        assert (await served.command("hold", {"kiln": "kiln1"}, csrf)).status == 200
    advance(sessions.idle_s - 1)
    assert (await served.session())["user"] is not None  # a look only
    advance(2)
    resp = await served.command("hold", {"kiln": "kiln1"}, csrf)
    assert "inactivity" in await served.refusal(resp, 401)
    assert (await served.session())["user"] is None
    assert len(lab.calls) == 3
