"""The README's first command: `labctl demo` runs a burnout and a cast and verifies the cast's
certificate, end to end, as a visitor would run it (its own simulated lab on loopback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.hil, pytest.mark.timeout(300)]


@pytest.mark.parametrize("cast", ["vacuum", "centrifugal"])
def test_the_demo_burns_out_casts_and_verifies_its_certificate(cast, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "labctl.cli", "demo", "--cast", cast],
        capture_output=True, text=True, timeout=280, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "certificate verified with only log.vkey: cast-" in run.stdout, run.stdout[-3000:]
    assert run.stdout.rstrip().endswith("cast: completed"), run.stdout[-3000:]
    assert "run 1 (gypsum-wax-small for gold-18k-yellow medium): completed" in run.stdout
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
