"""What every touchscreen request can count on: a bounded body, one JSON answer, no crash.

- Bodies are read within the app's size limit and parsed with :func:`loads_bounded`; any
  problem is a 400 ``{"ok": false, "error": reason}``, never a traceback.
- An unexpected exception in a handler is logged once, with its traceback, and answered
  ``500 {"ok": false, "error": "internal error ..."}``; the server keeps serving.
- aiohttp's own refusals under ``/api/`` (413 body too large, 405 ...) are JSON too.
- A command the registry answers as an internal error (a bug behind it) is a 500 too.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from labctl.commands.bounded_json import InputRefused, loads_bounded
from labctl.commands.registry import CommandRefused

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # sign-in and command payloads are one or two levels deep

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BodyRefused(Exception):
    """A request body that is not a JSON object; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refusal(status: int, reason: str, **extra: object) -> web.Response:
    return web.json_response({"ok": False, "error": reason, **extra}, status=status)


def is_internal(refused: CommandRefused) -> bool:
    """Whether the registry or a command queue refused because of a bug, not a rule.

    The traceback is already logged where it happened.
    """
    return refused.internal


async def json_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The request's body as a JSON object, or BodyRefused (too large, too deep, not JSON)."""
    data = await request.read()  # aiohttp refuses more than client_max_size with 413
    try:
        body = loads_bounded(data, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    except InputRefused as err:
        raise BodyRefused(err.reason) from None
    if not isinstance(body, dict):
        raise BodyRefused(f"a JSON {type(body).__name__}, not an object")
    return body


@web.middleware
async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost middleware: JSON for every refusal and every unexpected error."""
    try:
        return await handler(request)
    except web.HTTPException as http:
        if http.status < 400 or not request.path.startswith("/api/"):
            raise
        return refusal(http.status, http.text or http.reason)
    except BodyRefused as refused:
        return refusal(400, refused.reason)
    except Exception as err:
        log.exception("touchscreen: %s %s failed", request.method, request.path)
        return refusal(500, f"internal error ({type(err).__name__}); the lab controller logged it")


def client_address(request: web.Request, *, behind_proxy: bool) -> str:
    """The browser's address: behind a proxy on this host, the one the proxy appended last."""
    remote = request.remote or "unknown"
    if not behind_proxy or not is_loopback(remote):
        return remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return remote


def is_loopback(address: str) -> bool:
    """Whether ``address`` is an IP address of the loopback interface."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
