"""Runs each atheris harness (tests/fuzz/atheris/fuzz_*.py) for a bounded time.

Each harness gets ``LABCTL_ATHERIS_SECONDS`` (default 12) of libFuzzer time and 1 GB of RSS;
new corpus entries and crash artifacts go to the test's tmp directory, the committed seeds in
tests/fuzz/corpus/<name>/ are only read. A crash fails the test with the crashing input shown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESSES = sorted((ROOT / "tests/fuzz/atheris").glob("fuzz_*.py"))
SECONDS = int(os.environ.get("LABCTL_ATHERIS_SECONDS", "12"))


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 90)
@pytest.mark.parametrize("harness", HARNESSES, ids=[h.stem for h in HARNESSES])
def test_harness_finds_no_crash(harness: Path, tmp_path: Path) -> None:
    name = harness.stem.removeprefix("fuzz_")
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    corpus.mkdir()
    artifacts.mkdir()
    seeds = ROOT / "tests/fuzz/corpus" / name
    command = [
        sys.executable,
        str(harness),
        f"-max_total_time={SECONDS}",
        "-rss_limit_mb=1024",
        "-timeout=10",  # one input taking 10 s is a hang
        f"-artifact_prefix={artifacts}/",
        str(corpus),  # the first corpus directory is where libFuzzer writes
        *([str(seeds)] if seeds.is_dir() else []),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 60
    )
    found = sorted(artifacts.iterdir())
    shown = "\n".join(f"{p.name}: {p.read_bytes()[:500]!r}" for p in found)
    assert done.returncode == 0 and not found, (
        f"{harness.name} exited {done.returncode}; crashing inputs:\n{shown or '(none written)'}"
        f"\n--- stderr (tail) ---\n{done.stderr[-3000:]}"
    )
    assert "Done" in done.stderr, done.stderr[-2000:]
