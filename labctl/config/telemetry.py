"""Site-config sections for telemetry: the spool, InfluxDB and MQTT (users: :mod:`.users`).

Secrets (tokens, passwords) are never in the site file: each names a file readable only by the
service user (``*_file``), read once at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from labctl.config.base import Strict


class TelemetrySection(Strict):
    """``[telemetry]``: the durable spool every reading goes through first."""

    spool_max_points: int = Field(default=2_000_000, ge=1000, le=100_000_000)
    health_interval_s: float = Field(default=10.0, gt=0, le=3600)


class InfluxSection(Strict):
    """``[influx]``: where the spool drains to.

    ``version = 1``: the ``/write`` endpoint of InfluxDB 1.x (Debian's); ``version = 2``: the
    v2 write API (InfluxDB 2.x and 3.x).
    """

    version: Literal[1, 2]
    url: str = Field(pattern=r"^https?://")
    database: str | None = None  # v1
    username: str | None = None  # v1
    password_file: Path | None = None  # v1
    org: str | None = None  # v2
    bucket: str | None = None  # v2
    token_file: Path | None = None  # v2
    batch_size: int = Field(default=1000, ge=1, le=100_000)  # small: the spool thread decodes it
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _fields_for_version(self) -> InfluxSection:
        if self.version == 1 and not self.database:
            raise ValueError("version 1 needs database")
        if self.version == 2 and not (self.org and self.bucket and self.token_file):
            raise ValueError("version 2 needs org, bucket and token_file")
        return self


class MqttSection(Strict):
    """``[mqtt]``: the lab's broker (state, events, telemetry, and commands)."""

    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str = Field(default="labctl", min_length=1, max_length=64)
    keepalive_s: int = Field(default=30, ge=5, le=600)
    telemetry_interval_s: float = Field(default=5.0, gt=0, le=3600)


def read_secret(path: Path | None) -> str | None:
    """The first line of a secret file (None when not configured)."""
    if path is None:
        return None
    return path.read_text(encoding="utf-8").splitlines()[0].strip()
