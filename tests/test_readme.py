"""The README is a front door and the docs stay true to the code they print.

The README stays short (under 200 lines) and every link in it and in ``docs/`` reaches a file
of the repository (and, with ``#anchor``, a heading of that file), so a moved page cannot leave
a dead link. Its test command is the one CI runs. The tables the docs copy from the suite's own
tables (the fault matrix, the command x state summary) are what the commands the docs name
print now.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _printed(*args: str) -> str:
    """What ``python -m ARGS`` prints, run from the repository as the docs say."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _anchors(page: Path) -> set[str]:
    """The heading anchors of a markdown page, as GitHub spells them."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text(encoding="utf-8")), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _links(page: Path) -> list[str]:
    """Every relative link of a page (outside code blocks)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if "://" not in target]


def test_the_readme_stays_under_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 200, f"README.md has {lines} lines; move detail to docs/"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in _links(README)}
    assert DOCS, "no docs/*.md"
    assert [page.name for page in DOCS if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves(page: Path) -> None:
    dead = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            dead.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            dead.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert dead == [], page


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert f"```\n{ci}\n```" in README.read_text(encoding="utf-8")


def test_the_docs_fault_matrix_is_the_suite_table() -> None:
    page = (ROOT / "docs" / "safety-and-reliability.md").read_text(encoding="utf-8")
    assert _printed("hil_tests.support.fault_matrix", "--markdown") in page


def test_the_docs_command_summary_is_the_matrix_table() -> None:
    printed = _printed("tests.labctl.machines.matrix_summary")
    summary = printed.split("\n\n", 1)[1]  # the per-command table and the totals
    page = (ROOT / "docs" / "safety-and-reliability.md").read_text(encoding="utf-8")
    assert summary.startswith("| command | needs |") and summary in page
