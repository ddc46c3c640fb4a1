"""``[users.NAME]``: the people who may command labctl (MQTT, touchscreen), each with a role."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field, model_validator

from labctl.config.base import Strict


class Role(enum.IntEnum):
    """Who may give a command; a higher role may do everything a lower one may.

    Defined with the users (each has one) rather than in the command registry, so the site
    config needs nothing from the rooms above it.
    """

    OBSERVER = 0
    TECHNICIAN = 1
    SUPERVISOR = 2


PIN_HASH = r"^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class UserSection(Strict):
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
