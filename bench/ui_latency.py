"""(m) Touchscreen: latency from a simulated reading to the value shown in the DOM, and page load.

The lab runs in this process at real time (clock speed 1) with the UI on loopback; Debian's
Chromium (Playwright) shows the kiln detail. The simulated thermocouple carries a small sawtooth
so every reading differs from the last. Each reading is time-stamped when the kiln runner
publishes it (the moment labctl has it); a MutationObserver in the page time-stamps each new PV
text. Latency = DOM time - publish time of the reading with that value (same host clock).
Baselines in the same run: the update period itself, and loading a static file from the same
server in the same browser.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import async_playwright

from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from hil_tests.support.services import free_port
from hil_tests.support.ui import CHROMIUM, FLAGS
from labctl.config.site import load_site
from labctl.daemon.app import build_lab
from labctl.daemon.run import run_lab
from labctl.kiln.snapshot import KilnSnapshot
from labctl.sim.site import rig_site, ui_site

Row = Callable[[str, str, str, str], None]
PROFILES = Path(__file__).resolve().parent.parent / "profiles"

OBSERVE = """() => {
  window.__seen = [];
  const pv = document.querySelector('[data-testid=kiln-pv]');
  new MutationObserver(() => window.__seen.push([Date.now() / 1000, pv.textContent]))
    .observe(pv, {childList: true, characterData: true, subtree: true});
}"""
FIRST_PV = """() => new Promise(resolve => {
  const done = () => resolve(performance.now());
  const pv = () => document.querySelector('[data-testid=kiln-pv]');
  const ready = () => pv() && /[0-9]/.test(pv().textContent);
  if (ready()) return done();
  new MutationObserver((_, o) => { if (ready()) { o.disconnect(); done(); } })
    .observe(document, {childList: true, subtree: true, characterData: true});
})"""


class RipplingKiln(Eurotherm3200Sim):
    """The simulated kiln with a 0.1 °C sawtooth on its thermocouple, one step per 20 ms."""

    def _publish(self, sp: float, output: float, status: object) -> None:
        super()._publish(sp, output, status)  # type: ignore[arg-type]
        ripple = (int(time.monotonic() * 50) % 40) * 0.1
        self.bank.set("pv", round(self.kiln.chamber_c + ripple, 1))


def _pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def _match(readings: list[tuple[float, str]], seen: list[list[object]]) -> list[float]:
    """For each DOM change, ms since the latest reading with that text published before it."""
    latencies = []
    for at, text in seen:
        value = str(text).split()[0] if text else ""
        earlier = [t for t, pv in readings if pv == value and t <= float(str(at)) + 0.002]
        if earlier:
            latencies.append((float(str(at)) - earlier[-1]) * 1000)
    return latencies


async def _measure(tick_s: float, window_s: float) -> tuple[list[float], float, float]:
    sim, clock = RipplingKiln(), ScaledClock(1.0)
    readings: list[tuple[float, str]] = []

    def record(snap: KilnSnapshot) -> None:
        if snap.pv_c is not None:
            readings.append((time.time(), f"{snap.pv_c:.1f}"))

    with tempfile.TemporaryDirectory() as tmp:
        async with sim.serving(clock=clock, tcp_port=0) as endpoint:
            assert endpoint.port is not None
            port = free_port()
            site = Path(tmp) / "site.toml"
            site.write_text(
                rig_site(
                    state=Path(tmp) / "state", profiles=PROFILES, speed=1.0, epoch=time.time(),
                    tick_s=tick_s, kiln_port=endpoint.port,
                )
                + ui_site(port, people={})
            )  # fmt: skip
            lab = await build_lab(load_site(site), clock)
            lab.listeners.insert(0, record)
            daemon = asyncio.create_task(run_lab(lab))
            try:
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                    page = await browser.new_page(viewport={"width": 1280, "height": 800})
                    url = f"http://127.0.0.1:{port}"
                    await page.goto(f"{url}/static/app.css")
                    t0 = time.monotonic()
                    await page.goto(f"{url}/static/app.css")
                    static_ms = (time.monotonic() - t0) * 1000
                    await page.goto(f"{url}/#/kiln/kiln1")
                    load_ms = float(await page.evaluate(FIRST_PV))
                    await page.evaluate(OBSERVE)
                    await asyncio.sleep(window_s)
                    seen = await page.evaluate("window.__seen")
                    await browser.close()
            finally:
                daemon.cancel()
                await asyncio.gather(daemon, return_exceptions=True)
    return _match(readings, seen), load_ms, static_ms


async def bench_ui_latency(row: Row, window_s: float) -> None:
    """(m) reading-to-DOM p50/p95 at 1 Hz and 10 Hz, and page load."""
    for hz in (1, 10):
        latencies, load_ms, static_ms = await _measure(1.0 / hz, window_s)
        if not latencies:
            row(f"(m) UI reading→DOM at {hz} Hz", "no samples", "-", "FAILED")
            continue
        p50, p95 = _pct(latencies, 0.5), _pct(latencies, 0.95)
        row(
            f"(m) UI reading→DOM at {hz} Hz, p50 / p95",
            f"{p50:.0f} / {p95:.0f} ms ({len(latencies)} readings, max {max(latencies):.0f})",
            f"update period {1000 / hz:.0f} ms",
            f"p95 = {p95 / (1000 / hz):.2f} period; target p95 < 250 ms: "
            f"{'yes' if p95 < 250 else 'NO'}; mean {statistics.fmean(latencies):.0f} ms",
        )
        row(
            f"(m) UI page load to first PV at {hz} Hz",
            f"{load_ms:.0f} ms",
            f"{static_ms:.0f} ms a static file, same server and browser",
            f"{load_ms / max(static_ms, 1e-3):.1f}x",
        )
