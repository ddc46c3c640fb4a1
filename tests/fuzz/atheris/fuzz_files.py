"""Atheris: job-ticket, burnout, alloy and site files through their loaders."""

from __future__ import annotations

import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from labctl.config.site import load_site
    from labctl.errors import LabctlError
    from labctl.ledger.tickets import load_jobs
    from labctl.profiles.alloys import load_alloy
    from labctl.profiles.loader import load_burnout

from tests.fuzz.atheris.common import run

DIR = Path(tempfile.mkdtemp(prefix="fuzz-files-"))
LOADERS = (
    (DIR / "jobs.json", load_jobs),
    (DIR / "gypsum-wax-small.toml", load_burnout),
    (DIR / "silver-925.toml", load_alloy),
    (DIR / "site.toml", load_site),
)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    path, load = LOADERS[fdp.ConsumeIntInRange(0, len(LOADERS) - 1)]
    path.write_bytes(fdp.ConsumeBytes(fdp.remaining_bytes()))
    try:
        load(path)
    except LabctlError as err:
        if str(path) not in str(err):
            raise AssertionError(f"{err!r} does not name {path}") from err
    finally:
        path.unlink()


TestOneInput = test_one_input

if __name__ == "__main__":
    run(TestOneInput)
