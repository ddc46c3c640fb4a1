"""What every atheris harness shares: the run entry point and the errors a parser may raise."""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris


def run(test_one_input: Callable[[bytes], None]) -> None:
    """libFuzzer's main loop (arguments such as -max_total_time come from the command line)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
