"""The supervisor's commissioning screen in a real browser (Debian's Chromium via Playwright)
against the real daemon and the simulated caster: the devices listed with their state, a
technician without the screen, the I/O module commissioned with the button (its checks shown
as they come, then "passed"), its row commissioned and the caster's alarm narrowed.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from hil_tests.support.ui import chromium, open_screen, screenshots, sign_in, ui_lab

pytestmark = [pytest.mark.hil, pytest.mark.slow]
WAIT_MS = 30_000


@pytest.mark.timeout(240)
async def test_a_supervisor_commissions_a_device_from_the_touchscreen(tmp_path):
    async with ui_lab(tmp_path, flask_c=20.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await expect(page.get_by_test_id("not-commissioned-caster1")).to_be_visible()
        await expect(page.get_by_test_id("nav-commissioning")).to_be_hidden()  # a supervisor's

        await page.get_by_test_id("signout").click()
        await sign_in(page, "super")
        await page.get_by_test_id("nav-commissioning").click()
        io = page.get_by_test_id("commission-caster1.io")
        await expect(io).to_have_attribute("data-commissioned", "false", timeout=WAIT_MS)
        await expect(page.get_by_test_id("commission-last-caster1.io")).to_have_text(
            "Never commissioned"
        )
        await screenshots(page, "commissioning", must_see=("commission-caster1.crucible",))

        await page.get_by_test_id("commission-run-caster1.io").click()
        await page.get_by_test_id("confirm-yes").click()
        job = page.get_by_test_id("commission-job-caster1.io")
        await expect(job).to_have_attribute("data-running", "false", timeout=WAIT_MS)
        await expect(job).to_contain_text("Last run from here: passed")
        await expect(job).to_contain_text("lease ok")
        await expect(io).to_have_attribute("data-commissioned", "true")
        await expect(page.get_by_test_id("commission-last-caster1.io")).to_contain_text("Passed · ")
        await expect(page.get_by_test_id("commission-last-caster1.io")).to_contain_text("by super")
        await screenshots(page, "commissioning-done")

        await page.get_by_test_id("nav-overview").click()
        alarm = page.get_by_test_id("caster-card-caster1").locator(".card-alarm")
        await expect(alarm).to_have_text(
            "not commissioned: crucible, crucible_tc, gauge (allowed by [lab] allow_uncommissioned)"
        )
        assert not screen.errors, screen.errors
