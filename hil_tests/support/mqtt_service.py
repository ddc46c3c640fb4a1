"""A real Mosquitto broker for HIL tests: own config, password file and ACL in a tmp dir.

``mosquitto(tmp, users=..., acl=...)`` starts /usr/sbin/mosquitto on a free loopback port with
``allow_anonymous false``, a password file made by /usr/bin/mosquitto_passwd, and the given
ACL text; waits until it accepts connections; yields a :class:`Broker` (which can be stopped
and started again on the same port, or frozen with SIGSTOP); terminates it afterwards.
Persistence is off, so a restarted broker has forgotten every retained message.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _require(binary: Path) -> None:
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise AssertionError(
            f"{binary} not found: install Debian's mosquitto package (apt-get install mosquitto)"
        )


@dataclass
class Broker:
    """One mosquitto process (restartable on the same port)."""

    tmp: Path
    port: int
    config: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def log_file(self) -> Path:
        return self.tmp / "mosquitto.log"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    async def start(self, timeout_s: float = 10.0) -> None:
        assert self.proc is None, "already running"
        with (self.tmp / "mosquitto.out").open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(MOSQUITTO), "-c", str(self.config), stdout=out, stderr=out
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.returncode is not None:
                out_text = (self.tmp / "mosquitto.out").read_text(errors="replace")
                raise AssertionError(f"mosquitto exited: {out_text}\n{self.log()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                assert time.monotonic() < deadline, f"mosquitto not listening\n{self.log()}"
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def stop(self) -> None:
        """Terminate (kill after 5 s) and wait for the process to exit."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGCONT)  # in case it was paused
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def pause(self) -> None:
        """Freeze the broker: connections stay open but nothing answers (a dead link)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


def _password_file(path: Path, users: Mapping[str, str]) -> None:
    _require(MOSQUITTO_PASSWD)
    for index, (user, password) in enumerate(users.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [str(MOSQUITTO_PASSWD), *create, "-b", str(path), user, password],
            check=True,
            capture_output=True,
        )


@asynccontextmanager
async def mosquitto(tmp: Path, *, users: Mapping[str, str], acl: str) -> AsyncIterator[Broker]:
    """A running broker with these ``users`` (name -> password) and this ACL file text."""
    broker = _configure(tmp, users, acl)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def _configure(tmp: Path, users: Mapping[str, str], acl: str) -> Broker:
    _require(MOSQUITTO)
    tmp.mkdir(parents=True, exist_ok=True)
    passwords, acl_file, config = tmp / "passwd", tmp / "acl", tmp / "mosquitto.conf"
    _password_file(passwords, users)
    acl_file.write_text(acl)
    port = free_port()
    lines = [
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwords}",
        f"acl_file {acl_file}",
        f"listener {port} 127.0.0.1",
        "persistence false",
        f"log_dest file {tmp / 'mosquitto.log'}",
        "log_type all",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else it drops to "mosquitto", who cannot read tmp
    config.write_text("\n".join(lines) + "\n")
    return Broker(tmp=tmp, port=port, config=config)


def example_acl() -> str:
    """The ACL shipped in systemd/ (the tests prove the example, not a copy of it)."""
    root = Path(__file__).resolve().parents[2]
    return (root / "systemd" / "mosquitto-labctl.acl.example").read_text()
