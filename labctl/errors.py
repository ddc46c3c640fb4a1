"""Errors labctl reports to people: each names what is wrong and where."""

from __future__ import annotations

from pathlib import Path


class LabctlError(Exception):
    """Base of labctl's own errors."""


class ProfileError(LabctlError):
    """A profile file is unusable: names the file, the field and the problem."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = Path(path), field, problem
        where = f"{self.path}: {field}" if field else str(self.path)
        super().__init__(f"{where}: {problem}")


class ConfigError(ProfileError):
    """The site or rig config is unusable (same shape as a profile error)."""
