"""The touchscreen's pure ES modules (patch apply, units, formatting) under ``node --test``.

The suite is in ``tests/labctl/web/js/``; this runs it so ``pytest`` covers the browser's
half too. Node comes with the dev setup (``.ci/setup --dev``); without it the check fails
rather than skipping, so a missing runtime is never read as a pass.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_TESTS = Path(__file__).parent / "js"
ROOT = Path(__file__).parents[3]


def test_js_units_pass_under_node() -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed: run .ci/setup --dev"
    done = subprocess.run(
        [node, "--test", str(JS_TESTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    assert "# pass 0" not in done.stdout  # the suite ran something
