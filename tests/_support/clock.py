"""Virtual time a test can see to the bottom of.

A :class:`StepClock` is a :class:`VirtualClock` that counts its sleepers, so a test lab can
tell when every machine loop is asleep and only then move time on: each tick happens exactly
at its deadline, and nothing depends on how fast the machine running the test is.
"""

from __future__ import annotations

from drivers.clock import VirtualClock


class StepClock(VirtualClock):
    """A virtual clock that tells how many tasks sleep on it (see the module docstring)."""

    @property
    def waiting(self) -> int:
        """Tasks asleep on the clock (a woken one counts again only once it sleeps again)."""
        return sum(not fut.done() for _, _, fut in self._sleepers)
