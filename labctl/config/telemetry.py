"""Site-config sections for telemetry: the spool, InfluxDB, MQTT and the people who command.

Secrets (tokens, passwords) are never in the site file: each names a file readable only by the
service user (``*_file``), read once at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labctl.commands.registry import Role


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelemetrySection(_Strict):
    """``[telemetry]``: the durable spool every reading goes through first."""

    spool_max_points: int = Field(default=2_000_000, ge=1000, le=100_000_000)
    health_interval_s: float = Field(default=10.0, gt=0, le=3600)


class InfluxSection(_Strict):
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


class MqttSection(_Strict):
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


PIN_HASH = r"^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class UserSection(_Strict):
    """``[users.NAME]``: who may command labctl (MQTT, touchscreen), and with which role.

    A user with a ``badge`` and a ``pin_hash`` (from ``labctl ui hash-pin``) can sign in on the
    touchscreen; the PIN itself is never stored.
    """

    role: Literal["observer", "technician", "supervisor"] = "technician"
    badge: str | None = Field(default=None, pattern=r"^[0-9]{1,16}$")
    pin_hash: str | None = Field(default=None, pattern=PIN_HASH)

    @model_validator(mode="after")
    def _badge_with_pin(self) -> UserSection:
        if (self.badge is None) != (self.pin_hash is None):
            raise ValueError("give both badge and pin_hash (labctl ui hash-pin), or neither")
        return self

    @property
    def as_role(self) -> Role:
        return Role[self.role.upper()]


def read_secret(path: Path | None) -> str | None:
    """The first line of a secret file (None when not configured)."""
    if path is None:
        return None
    return path.read_text(encoding="utf-8").splitlines()[0].strip()
