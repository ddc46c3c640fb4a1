"""The touchscreen's HTTP server: static pages, sign-in, commands and the live websocket.

Security, in the order a request meets it: strict headers on every answer (a CSP that allows
only this origin, no framing, no referrer); a POST must carry the session's CSRF token in
``X-CSRF-Token`` and, when the browser sends one, an ``Origin`` of this very host; the
session cookie is HttpOnly and SameSite=Strict (Secure under TLS); commands go through the
shared registry, which checks the role and the machine's state and answers with a reason.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from labctl.commands.registry import CommandRefused, CommandRegistry
from labctl.config.ui import UiSection
from labctl.units import localize, localize_tree
from labctl.web.answers import (
    BodyRefused,
    Handler,
    answer_errors,
    client_address,
    is_internal,
    json_object,
    refusal,
)
from labctl.web.live import LivePush
from labctl.web.signin import Session, Sessions, SignInRefused
from labctl.web.view import LabView

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "labctl_session"
CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_BODY = 64 * 1024
BADGE = re.compile(r"[0-9]{1,16}")


class TouchscreenServer:
    """Routes of the touchscreen, bound to one lab's registry, view and sessions."""

    def __init__(
        self,
        ui: UiSection,
        lab_name: str,
        registry: CommandRegistry,
        view: LabView,
        sessions: Sessions,
        push: LivePush,
    ) -> None:
        self._ui, self._lab, self._registry = ui, lab_name, registry
        self._view, self._sessions, self._push = view, sessions, push

    def app(self) -> web.Application:
        app = web.Application(middlewares=[answer_errors, self._csrf], client_max_size=MAX_BODY)
        app.on_response_prepare.append(_headers)  # every answer, aiohttp's own 404/413 too
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/api/session", self._session)
        app.router.add_get("/api/commands", self._may_give)
        app.router.add_post("/api/signin", self._signin)
        app.router.add_post("/api/signout", self._signout)
        app.router.add_post("/api/command/{name}", self._command)
        app.router.add_get("/api/kiln/{name}/series", self._series)
        app.router.add_get("/ws", self._websocket)
        return app

    # ------------------------------------------------------------ middleware
    @web.middleware
    async def _csrf(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST":
            if not _same_origin(request):
                return refusal(403, "request from another site refused")
            if request.path != "/api/signin":
                session = self._current(request, touch=False)
                token = request.headers.get("X-CSRF-Token")
                if session is None:
                    return refusal(401, "not signed in (or signed out after inactivity)")
                if token != session.csrf:
                    return refusal(403, "missing or wrong CSRF token; reload the page")
        return await handler(request)

    # ------------------------------------------------------------ routes
    async def _index(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _session(self, request: web.Request) -> web.Response:
        session = self._current(request, touch=False)
        return web.json_response(
            {
                "user": session.as_json() if session else None,
                "csrf": session.csrf if session else None,
                "lab": self._lab,
                "temperature_unit": self._ui.temperature_unit,
                "idle_signout_s": self._ui.idle_signout_s,
                "view_without_signin": self._ui.anonymous_view,
            }
        )

    async def _may_give(self, request: web.Request) -> web.Response:
        """The commands the signed-in person may give (the sign-in answer has them too)."""
        return web.json_response({"commands": self._commands(self._current(request, touch=False))})

    async def _signin(self, request: web.Request) -> web.Response:
        ask = "give a badge number (digits) and a PIN"
        try:
            body = await json_object(request, MAX_BODY)
        except BodyRefused as refused:
            return refusal(400, f"{ask}: {refused.reason}")
        badge, pin = body.get("badge"), body.get("pin")
        if not isinstance(badge, str) or not isinstance(pin, str) or not BADGE.fullmatch(badge):
            return refusal(400, ask)
        if len(pin) > 64:
            return refusal(400, "that PIN is too long")
        client = client_address(request, behind_proxy=self._ui.behind_proxy)
        try:
            token, session = await self._sessions.sign_in(badge, pin, client)
        except SignInRefused as refused:
            if refused.retry_after_s is not None:
                return _locked(refused.reason, refused.retry_after_s)
            return refusal(409 if refused.busy else 401, refused.reason)
        response = web.json_response(
            {"user": session.as_json(), "csrf": session.csrf, "commands": self._commands(session)}
        )
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=self._ui.tls or self._ui.behind_proxy,  # the browser is on https then
            path="/",
        )
        return response

    async def _signout(self, request: web.Request) -> web.Response:
        self._sessions.sign_out(request.cookies.get(COOKIE))
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/")
        return response

    async def _command(self, request: web.Request) -> web.Response:
        session = self._current(request)
        assert session is not None  # the CSRF middleware let only signed-in POSTs through
        name = request.match_info["name"]
        try:
            body = await json_object(request, MAX_BODY)
        except BodyRefused as refused:
            return refusal(400, f"{name}: the payload is not a JSON object ({refused.reason})")
        needed = self._registry.role_of(name)
        caller = session.caller
        try:
            result = await self._registry.dispatch(name, body, caller)
        except CommandRefused as refused:
            status = 403 if needed is not None and caller.role < needed else 409
            status = 500 if is_internal(refused) else status
            return refusal(status, localize(refused.reason, self._ui.temperature_unit))
        plain = json.loads(json.dumps(result, default=str))
        return web.json_response(
            {"ok": True, "result": localize_tree(plain, self._ui.temperature_unit)}
        )

    async def _series(self, request: web.Request) -> web.Response:
        if not self._may_view(request):
            return refusal(401, "sign in to see the kilns")
        series = self._view.series(request.match_info["name"])
        if series is None:
            return refusal(404, f"no kiln named {request.match_info['name']!r}")
        return web.json_response(series)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not _same_origin(request):
            return refusal(403, "websocket from another site refused")
        if not self._may_view(request):
            return refusal(401, "sign in to see the kilns")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        token = request.cookies.get(COOKIE)
        anonymous = self._ui.anonymous_view

        def allowed() -> bool:
            return anonymous or self._sessions.get(token, touch=False) is not None

        await self._push.add(ws, allowed)
        try:
            async for _ in ws:  # the browser sends nothing that matters; commands are POSTs
                pass
        finally:
            self._push.remove(ws)
        return ws

    # ------------------------------------------------------------ helpers
    def _commands(self, session: Session | None) -> list[str]:
        """The commands the registry lets this person give (none without a session)."""
        if session is None:
            return []
        role, registry = session.caller.role, self._registry
        return [
            n
            for n in registry.names()
            if (needed := registry.role_of(n)) is not None and needed <= role
        ]

    def _current(self, request: web.Request, *, touch: bool = True) -> Session | None:
        return self._sessions.get(request.cookies.get(COOKIE), touch=touch)

    def _may_view(self, request: web.Request) -> bool:
        return self._ui.anonymous_view or self._current(request, touch=False) is not None


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/") or request.path == "/ws":
        response.headers["Cache-Control"] = "no-store"


def _same_origin(request: web.Request) -> bool:
    """No Origin header (not a browser, or a same-origin GET) or one naming this host."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def _locked(reason: str, wait_s: int) -> web.Response:
    """429 with the seconds left, in the body (for the countdown) and in ``Retry-After``."""
    response = refusal(429, reason, retry_after_s=wait_s)
    response.headers["Retry-After"] = str(wait_s)
    return response
