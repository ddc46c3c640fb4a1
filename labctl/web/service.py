"""The touchscreen as one service of the daemon: built from the lab, run in its TaskGroup."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from labctl.alarms import AlarmBoard
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRegistry
from labctl.config.ui import UiSection
from labctl.config.users import UserSection
from labctl.kiln.runner import KilnRunner
from labctl.kiln.snapshot import KilnSnapshot
from labctl.runs.store import RunStore
from labctl.web.live import LivePush
from labctl.web.lockout import Lockout
from labctl.web.server import TouchscreenServer
from labctl.web.signin import Sessions
from labctl.web.view import LabView

log = logging.getLogger(__name__)

LOCKOUT_FILE = "signin-lockout.json"  # in the site's state_dir: wrong-PIN locks and counts


class Touchscreen:
    """Serves the UI on ``ui.host:ui.port`` and pushes live state while running."""

    def __init__(
        self,
        ui: UiSection,
        lab_name: str,
        users: Mapping[str, UserSection],
        registry: CommandRegistry,
        kilns: Mapping[str, KilnRunner],
        casters: Mapping[str, CasterRunner],
        board: AlarmBoard,
        store: RunStore,
        state_dir: Path | None = None,
    ) -> None:
        """``state_dir``: where the wrong-PIN locks are kept across restarts (None: memory)."""
        self._ui = ui
        self.view = LabView(lab_name, kilns, casters, board, store, ui.temperature_unit)
        self.push = LivePush(self.view.state, self.view.refresh, ui.max_push_hz)
        if state_dir is None:
            log.warning("touchscreen: no state_dir given; wrong-PIN locks end with the daemon")
        self.lockout = Lockout(None if state_dir is None else state_dir / LOCKOUT_FILE)
        sessions = Sessions(users, idle_s=ui.idle_signout_s, lockout=self.lockout)
        server = TouchscreenServer(ui, lab_name, registry, self.view, sessions, self.push)
        self._app = server.app()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        if not any(u.badge for u in users.values()):
            log.warning("touchscreen: no user has a badge and PIN; nobody can sign in")

    def kiln(self, snap: KilnSnapshot) -> None:
        """Kiln snapshot listener."""
        self.view.add_point(snap)
        self.push.poke()

    async def start(self) -> None:
        """Bind (a config error names the address if it cannot)."""
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        context = None
        if self._ui.tls_cert_file is not None and self._ui.tls_key_file is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._ui.tls_cert_file, self._ui.tls_key_file)
        site = web.TCPSite(self._runner, self._ui.host, self._ui.port, ssl_context=context)
        await site.start()
        server = site._server  # the one way aiohttp tells the port it bound (port 0)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._ui.port
        scheme = "https" if context else "http"
        log.info("touchscreen on %s://%s:%s/", scheme, self._ui.host, self.port)

    async def run(self) -> None:
        await self.push.run()

    async def close(self) -> None:
        await self.push.close()
        if self._runner is not None:
            await asyncio.shield(self._runner.cleanup())
