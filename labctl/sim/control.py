"""The rig's control API: what a person or a fault does to a simulated rig, over local HTTP/JSON.

``labctl sim`` serves it on 127.0.0.1 when the rig file sets ``control_port`` (0: any free
port); it logs ``control API on http://127.0.0.1:PORT/v1/`` and, with ``control_url_file``, writes
that URL to the file. There is no authentication: it listens on loopback only.

======  ===============================  =====================================================
Method  Path                             Answer
======  ===============================  =====================================================
GET     ``/v1/rig``                      ``{"ok", "speed", "clock_unix_s", "devices": {...}}``
GET     ``/v1/actions``                  ``{"ok", "actions": {NAME: {ACTION: A}}}``
GET     ``/v1/devices/NAME``             ``{"ok", "device": NAME, **D, "actions": {ACTION: A}}``
POST    ``/v1/devices/NAME/ACTION``      ``{"ok", "device", "action", "args", **D}`` after the act
======  ===============================  =====================================================

``D`` is a device: ``family``; ``endpoint`` (``tcp_port`` or ``pty``, where the daemon reaches
it; not for a caster as a whole); ``state``, what the simulator holds now (temperatures in °C,
pressures in mbar abs, ``rpm``, coils and inputs as booleans); ``faults``, its backdoor's fault
flags. ``A`` describes an action: ``{"doc", "args": {ARG: {"type", "required", "default"}}}``.
``devices`` maps each NAME to its D. ``clock_unix_s`` is the rig's clock as a Unix time in
simulated seconds (the daemon's, when both share ``speed`` and ``epoch``), ``speed`` its rate.

A POST's body is a JSON object of the action's arguments (empty or absent when it takes none),
at most 4 KiB. Actions (a device has those its simulator offers, ``GET /v1/actions`` lists
them; ``on`` defaults to true, false undoes the fault):

- a caster ``NAME``: ``place_flask``, ``remove_flask``, ``press_estop``, ``release_estop``,
  ``open_lid``, ``close_lid``; vacuum only: ``leak`` (``mbar_l_per_s``, 0 stops it);
- every device's link: ``comms_loss``, ``silent`` (``on``), ``slow_replies`` (``delay_s``, wall
  seconds, 0 restores); Modbus devices also ``corrupt_crc`` (``on``) and ``reboot``; serial
  (ASCII) devices ``garble`` (``on``);
- a kiln controller and ``NAME.crucible``: ``open_thermocouple``, ``stick_relay``,
  ``fail_heater`` (``on``); the crucible also ``ad_converter_error`` (``on``);
- ``NAME.io``: ``open_lid``, ``press_estop``, ``remove_flask``, ``fail_pump`` (``on``);
- ``NAME.tc``: ``open_wire`` (``channel``, ``on``); ``NAME.gauge``: ``sensor_error``,
  ``sensor_off``, ``no_sensor``, ``identification_error`` (``on``, ``channel`` = 1);
- ``NAME.drive``: ``drive_fault`` (``code``: the drive trips and holds it until the host's reset,
  ``labctl cast-reset-drive``).

An arm's balance is not modelled (nothing on a real caster measures it): it is the person's
confirmation ``labctl cast-confirm CASTER balance_confirmed`` at the daemon.

Errors are ``{"ok": false, "error": REASON}``: 404 for an unknown device or action (the reason
lists the known ones), 400 for a bad body or argument, 413 for a body over the limit, 405 for a
wrong method; an unexpected failure is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from drivers.clock import Clock
from labctl.errors import LabctlError
from labctl.sim.actions import ActionError
from labctl.sim.devices import RigDevice, State
from labctl.web.answers import BodyRefused, json_object, refusal

log = logging.getLogger(__name__)

MAX_BODY = 4096
HOST = "127.0.0.1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _NotFound(LookupError):
    """No such device or action; the message lists the known ones."""


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal and failure as one JSON answer; tracebacks only in the log."""
    try:
        return await handler(request)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return refusal(http.status, http.text or http.reason)
    except _NotFound as missing:
        return refusal(404, str(missing))
    except BodyRefused as refused:
        return refusal(400, refused.reason)
    except ActionError as err:
        return refusal(400, str(err))
    except Exception as err:
        log.exception("control API: %s %s failed", request.method, request.path)
        return refusal(500, f"internal error ({type(err).__name__}); the simulator logged it")


class ControlApi:
    """The HTTP handlers over the rig's devices."""

    def __init__(self, devices: Mapping[str, RigDevice], clock: Clock) -> None:
        self._devices = devices
        self._clock = clock

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY)
        app.router.add_get("/v1/rig", self._rig)
        app.router.add_get("/v1/actions", self._actions)
        app.router.add_get("/v1/devices/{device}", self._device)
        app.router.add_post("/v1/devices/{device}/{action}", self._act)
        return app

    def _find(self, request: web.Request) -> tuple[str, RigDevice]:
        name = request.match_info["device"]
        device = self._devices.get(name)
        if device is None:
            known = ", ".join(self._devices) or "none"
            raise _NotFound(f"no device {name!r} on this rig (devices: {known})")
        return name, device

    async def _rig(self, request: web.Request) -> web.Response:
        devices = {name: device.describe() for name, device in self._devices.items()}
        clock = {"speed": self._clock.speed, "clock_unix_s": self._clock.wall()}
        return web.json_response({"ok": True, **clock, "devices": devices})

    async def _actions(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "actions": {name: _catalogue(d) for name, d in self._devices.items()}}
        )

    async def _device(self, request: web.Request) -> web.Response:
        name, device = self._find(request)
        return web.json_response(
            {"ok": True, "device": name, **device.describe(), "actions": _catalogue(device)}
        )

    async def _act(self, request: web.Request) -> web.Response:
        name, device = self._find(request)
        action_name = request.match_info["action"]
        action = device.actions.get(action_name)
        if action is None:
            known = ", ".join(sorted(device.actions)) or "none"
            raise _NotFound(f"{name} has no action {action_name!r} (actions: {known})")
        body = await json_object(request, MAX_BODY) if await request.read() else {}
        args = action.bind(body)
        action.call(**args)
        log.info("control API: %s %s %s", name, action_name, args or "")
        reply = {"ok": True, "device": name, "action": action_name, "args": args}
        return web.json_response(reply | device.describe())


def _catalogue(device: RigDevice) -> State:
    return {name: action.describe() for name, action in sorted(device.actions.items())}


class ControlApiError(LabctlError):
    """The control API could not be served (the port is taken, the URL file not written)."""


@contextlib.asynccontextmanager
async def serving_control(
    devices: Mapping[str, RigDevice], clock: Clock, *, port: int, url_file: Path | None = None
) -> AsyncIterator[str]:
    """Serve the control API on 127.0.0.1:``port`` (0: any free port); yields its base URL.

    ``url_file`` receives the URL (written whole, by rename) and is removed at the end.
    """
    runner = web.AppRunner(ControlApi(devices, clock).app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        try:
            await site.start()
        except OSError as err:
            raise ControlApiError(f"control API: cannot listen on {HOST}:{port}: {err}") from err
        bound = runner.addresses[0][1]
        url = f"http://{HOST}:{bound}/v1/"
        log.info("control API on %s", url)
        if url_file is not None:
            _write_whole(url_file, url)
        try:
            yield url
        finally:
            if url_file is not None:
                _remove(url_file)
    finally:
        await runner.cleanup()


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` so a reader polling for ``path`` never sees it half written."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as err:
        raise ControlApiError(f"control API: cannot write {path}: {err.strerror}") from err


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
