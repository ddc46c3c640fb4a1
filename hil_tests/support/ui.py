"""HIL support for the touchscreen: a simulated lab serving the UI, and Debian's Chromium
driven by Playwright against it (no browser download: ``/usr/bin/chromium``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from playwright.async_api import Browser, Page, async_playwright

from hil_tests.support.caster import CasterRig, caster_rig
from hil_tests.support.services import free_port
from labctl.ledger import keys
from labctl.sim.demo.records import demo_records
from labctl.sim.site import LEDGER_ORIGIN, RIG_PEOPLE, ui_site

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out, which this closed
# network refuses; --no-sandbox because CI runs as root.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SIZES = {"800x480": (800, 480), "1280x800": (1280, 800)}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ALLOY, PIECE_CLASS = "gold-18k-yellow", "medium"
FLASK_ID = "F-0007"  # recorded with its job by demo_records
CONFIRM_TIMEOUT_S = 3000.0  # simulated: a minute of wall time for a browser to confirm


@dataclass
class UiLab:
    """The simulated lab (kiln + caster + ledger) and where its touchscreen listens."""

    rig: CasterRig
    url: str


@contextlib.asynccontextmanager
async def ui_lab(
    tmp: Path,
    *,
    flask_c: float,
    kind: Literal["vacuum", "centrifugal"] = "vacuum",
    ui: Mapping[str, object] | None = None,
) -> AsyncIterator[UiLab]:
    """Serve the lab with a ledger holding the demo's lot, melt, job and flask records."""
    key = tmp / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    port = free_port()
    async with caster_rig(
        tmp,
        kind,
        flask_c=flask_c,
        ledger_key=key,
        extra=ui_site(port, options=ui),
        confirm_timeout_s=CONFIRM_TIMEOUT_S,
    ) as rig:
        await rig.start_daemon()
        for record in demo_records(ALLOY, PIECE_CLASS, "gold", 750):
            await rig.command("ledger_record", **record)
        yield UiLab(rig, f"http://127.0.0.1:{port}/")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Screen:
    """A browser page on the touchscreen and the script errors it logged."""

    page: Page
    errors: list[str]


async def open_screen(browser: Browser, url: str, size: str = "1280x800") -> Screen:
    width, height = SIZES[size]
    page = await browser.new_page(viewport={"width": width, "height": height})
    screen = Screen(page, [])
    page.on("pageerror", lambda err: screen.errors.append(str(err)))
    await page.goto(url)
    return screen


async def type_keys(page: Page, field: str, digits: str) -> None:
    """Enter ``digits`` into a sign-in field with the on-screen keypad (no keyboard)."""
    await page.get_by_test_id(field).click()
    for digit in digits:
        await page.get_by_test_id(f"key-{digit}").click()


async def sign_in(page: Page, person: str = "tech", pin: str | None = None) -> None:
    """Sign in as one of the rig's people (``RIG_PEOPLE``) with the keypad."""
    _, badge, right_pin = RIG_PEOPLE[person]
    if not await page.get_by_test_id("signin").is_visible():
        await page.get_by_test_id("signin-open").click()
    await type_keys(page, "signin-badge", badge)
    await type_keys(page, "signin-pin", right_pin if pin is None else pin)
    await page.get_by_test_id("signin-submit").click()


async def start_burnout(
    page: Page, profile: str = "gypsum-wax-small", *, cool_first: bool = False
) -> None:
    """From the overview, start a burnout on kiln1 with the recorded flask (signed in); with
    ``cool_first``, a kiln too hot for the first segment cools to it first."""
    await page.get_by_test_id("kiln-card-kiln1").click()
    await page.get_by_test_id("kiln-start").click()
    await page.get_by_test_id(f"flask-{FLASK_ID}").click()
    await page.get_by_test_id(f"alloy-{ALLOY}").click()
    await page.get_by_test_id(f"class-{PIECE_CLASS}").click()
    await page.get_by_test_id(f"profile-{profile}").click()
    if cool_first:
        await page.get_by_test_id("start-hot-cool").click()
    await page.get_by_test_id("start-submit").click()


def commands_done(lab: UiLab, name: str) -> int:
    """How many ``name`` commands the daemon carried out (its log, from the start)."""
    text = "\n".join(p.read_text() for p in lab.rig.daemon.logs if p.exists())
    return text.count(f"command {name} by ")


async def tap(page: Page, x: float, y: float) -> None:
    """A finger's tap at (x, y): wherever it lands, with no waiting for the target."""
    await page.mouse.click(x, y)


LAYOUT_CHECK = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) problems.push(`page ${doc.scrollWidth}px wide`);
  const visible = [...document.querySelectorAll('button, [role=button], a.button')].filter(e => {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  });
  for (const e of visible) {
    const r = e.getBoundingClientRect();
    const name = e.dataset.testid || e.textContent.trim().slice(0, 30);
    if (r.width < 48 || r.height < 48) problems.push(`${name}: ${r.width}x${r.height} px`);
    if (r.left < -1 || r.right > window.innerWidth + 1) problems.push(`${name}: clipped`);
    if (e.scrollWidth > e.clientWidth + 1) problems.push(`${name}: text overflows`);
  }
  for (let i = 0; i < visible.length; i++) for (let j = i + 1; j < visible.length; j++) {
    const a = visible[i].getBoundingClientRect(), b = visible[j].getBoundingClientRect();
    if (visible[i].contains(visible[j]) || visible[j].contains(visible[i])) continue;
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    const label = e => e.dataset.testid || e.textContent.trim().slice(0, 20);
    if (w > 1 && h > 1) problems.push(`overlap: ${label(visible[i])} / ${label(visible[j])}`);
  }
  return problems;
}"""


async def screenshots(page: Page, name: str, *, must_see: tuple[str, ...] = ()) -> list[Path]:
    """Screenshot ``page`` at both sizes into artifacts/; assert the layout holds at each.

    At each size: nothing wider than the screen, every button at least 48x48 px and not
    overlapping another, and each ``must_see`` test id inside the first screenful.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(300)  # let the layout settle after the resize
        problems: list[str] = await page.evaluate(LAYOUT_CHECK)
        for test_id in must_see:
            box = await page.get_by_test_id(test_id).bounding_box()
            if box is None or box["y"] + box["height"] > height or box["y"] < 0:
                problems.append(f"{test_id} not fully on the first screen: {box}")
        path = SCREENSHOTS / f"{name}-{size}.png"
        await page.screenshot(path=str(path))
        assert not problems, f"{name} at {size}: {problems} (see {path})"
        paths.append(path)
    return paths
