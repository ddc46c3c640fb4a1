"""Everything one kiln's control loop needs from the site config, flattened and typed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labctl.config.limits import InterlockLimits


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """One kiln's control settings.

    ``interlocks.max_temp_c`` is the kiln's own limit; each run narrows it to the profile's.
    """

    kiln: str
    mode: str  # "stream" | "programmer"
    tick_s: float
    max_temp_c: float
    fallback_sp_c: float
    interlocks: InterlockLimits
    resume_max_gap_s: float
    resume_max_drop_c: float
    persist_every_s: float = 60.0

    def limits_for(self, profile_max_c: float) -> InterlockLimits:
        """The interlock limits of a run: the lower of the kiln's and the profile's maximum."""
        return replace(self.interlocks, max_temp_c=min(self.max_temp_c, profile_max_c))
