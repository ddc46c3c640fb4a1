"""Site-config section ``[ui]``: the technicians' touchscreen, served when the section exists.

It listens on the loopback interface by default (the kiosk browser on the same machine).
Listening anywhere else is a deliberate choice: it needs either TLS (``tls_cert_file`` and
``tls_key_file``) or ``behind_proxy = true`` (a TLS-terminating reverse proxy in front, which
the README describes), and the lab is then never shown to someone who has not signed in; nor is
it behind a proxy, even one on this host.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from labctl.config.base import Strict


class UiSection(Strict):
    """``[ui]``."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (test rigs)
    temperature_unit: Literal["C", "F"] = "C"
    idle_signout_s: int = Field(default=300, ge=30, le=86_400)
    view_without_signin: bool = True  # loopback, no proxy: the lab stays readable signed out
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    behind_proxy: bool = False
    max_push_hz: float = Field(default=20.0, gt=0, le=100)  # websocket patches per second at most

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def anonymous_view(self) -> bool:
        """Whether the lab is shown before sign-in: only to a kiosk on the loopback interface.

        Never off loopback, and never behind a proxy: a proxy on this very host makes every
        browser it forwards look like a loopback client.
        """
        return self.view_without_signin and self.loopback and not self.behind_proxy

    @model_validator(mode="after")
    def _remote_needs_protection(self) -> UiSection:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        if not self.loopback and not (self.tls or self.behind_proxy):
            raise ValueError(
                f"host {self.host!r} is not loopback: set tls_cert_file and tls_key_file, or "
                "behind_proxy = true with a TLS reverse proxy in front (see README)"
            )
        return self
