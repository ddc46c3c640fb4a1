"""One source of colours for the touchscreen: ``static/tokens.css``."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).parents[3] / "labctl" / "web" / "static"
TOKENS = STATIC / "tokens.css"
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?)\(")
DEFINED = re.compile(r"^\s*--([a-z0-9-]+):", re.MULTILINE)
USED_CSS = re.compile(r"var\(--([a-z0-9-]+)\)")
USED_JS = re.compile(r"token\('([a-z0-9-]+)'\)")


def own_files() -> list[Path]:
    """The frontend's own files (the vendored chart library keeps its defaults)."""
    return [
        p
        for p in sorted(STATIC.rglob("*"))
        if p.suffix in {".css", ".js", ".html"} and "vendor" not in p.parts
    ]


def test_no_colour_is_written_outside_the_tokens() -> None:
    found = {
        p.name: COLOUR.findall(p.read_text(encoding="utf-8"))
        for p in own_files()
        if p != TOKENS and COLOUR.search(p.read_text(encoding="utf-8"))
    }
    assert found == {}


def test_every_token_used_is_defined_once() -> None:
    names = DEFINED.findall(TOKENS.read_text(encoding="utf-8"))
    assert len(names) == len(set(names)), "a token defined twice"
    used = set()
    for p in own_files():
        if p == TOKENS:
            continue
        text = p.read_text(encoding="utf-8")
        used |= set(USED_CSS.findall(text)) | set(USED_JS.findall(text))
    assert {"chart-sp", "chart-pv", "chart-core", "chart-axis", "chart-grid"} <= used
    assert used - set(names) == set()


def test_the_stylesheet_loads_the_tokens() -> None:
    app_css = (STATIC / "app.css").read_text(encoding="utf-8")
    assert '@import url("tokens.css");' in app_css
