"""The touchscreen in a real browser (Debian's Chromium via Playwright) against the real daemon
with simulated devices: sign-in, a burnout on a chosen flask and alloy, hold and resume, an
injected fault ending the run faulted with its alarm acknowledged, a caster confirmation,
refusals, a frozen daemon shown as "no contact", a °F lab's texts. Screenshots at 800x480 and
1280x800 go to artifacts/screenshots/.
"""

from __future__ import annotations

import base64
import json
import re
import signal
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from hil_tests.support.ui import (
    ALLOY,
    FLASK_ID,
    PIECE_CLASS,
    chromium,
    commands_done,
    open_screen,
    screenshots,
    sign_in,
    start_burnout,
    tap,
    type_keys,
    ui_lab,
)

pytestmark = [pytest.mark.hil, pytest.mark.slow]
PROFILE = "gypsum-wax-small"
WAIT_MS = 30_000


async def _pv(page: Page) -> float:
    return float(await page.get_by_test_id("kiln-pv").inner_text())


@pytest.mark.timeout(240)
async def test_burnout_from_the_touchscreen(tmp_path):
    async with ui_lab(tmp_path, flask_c=20.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await expect(page.get_by_test_id("topbar-user")).to_contain_text("tech")
        await expect(page.get_by_test_id("kiln-card-kiln1")).to_be_visible()
        for machine in ("kiln1", "caster1"):  # simulated devices hold no commissioning record
            await expect(page.get_by_test_id(f"not-commissioned-{machine}")).to_be_visible()
        await screenshots(page, "overview", must_see=("kiln-card-kiln1", "caster-card-caster1"))
        standing = await page.get_by_test_id("alarm-count").inner_text()  # caster1's

        # start on the recorded flask: its job settles alloy and piece class
        await page.get_by_test_id("kiln-card-kiln1").click()
        await page.get_by_test_id("kiln-start").click()
        await page.get_by_test_id(f"flask-{FLASK_ID}").click()
        await page.get_by_test_id(f"alloy-{ALLOY}").click()
        await page.get_by_test_id(f"class-{PIECE_CLASS}").click()
        await page.get_by_test_id(f"profile-{PROFILE}").click()
        await expect(page.get_by_test_id("start-casting-temp")).to_contain_text("566")
        await page.get_by_test_id("start-submit").click()

        state = page.get_by_test_id("kiln-state")
        await expect(state).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        await expect(page.get_by_test_id("kiln-segment")).to_contain_text("ramp to 149")
        current = page.locator('[data-testid=kiln-segments] li[data-current="true"]')
        await expect(current).to_contain_text("ramp to 149")
        status = await lab.rig.daemon.status()
        assert status is not None
        kiln = status["kilns"][0]
        assert (kiln["profile"], kiln["run_id"]) == (PROFILE, 1)
        started = await _pv(page)
        await expect(page.get_by_test_id("kiln-pv")).not_to_have_text(
            re.compile(rf"^{re.escape(f'{started:.1f}')}$"), timeout=WAIT_MS
        )  # it moves
        await screenshots(page, "kiln-detail", must_see=("kiln-pv", "kiln-hold", "kiln-abort"))

        await page.get_by_test_id("kiln-hold").click()
        await expect(state).to_have_attribute("data-state", "held", timeout=WAIT_MS)
        await page.get_by_test_id("kiln-resume").click()
        await expect(state).to_have_attribute("data-state", "running", timeout=WAIT_MS)

        lab.rig.kiln.backdoor.open_thermocouple()
        outcome = page.get_by_test_id("kiln-outcome")
        await expect(outcome).to_contain_text("faulted", timeout=WAIT_MS)
        await expect(outcome).to_contain_text("sensor")
        await expect(page.get_by_test_id("alarm-count")).not_to_have_text(standing)
        assert lab.rig.kiln.output_pct <= 0.5  # heat off on the device itself

        await page.get_by_test_id("nav-alarms").click()
        row = page.locator('li[data-testid^="alarm-"]', has_text="sensor").first
        await expect(row).to_be_visible()
        alarm_id = (await row.get_attribute("data-testid") or "").removeprefix("alarm-")
        await page.get_by_test_id(f"alarm-ack-{alarm_id}").click()
        await expect(page.get_by_test_id(f"alarm-{alarm_id}")).to_contain_text("tech")
        await screenshots(page, "alarms")

        await page.get_by_test_id("nav-history").click()
        history = page.get_by_test_id("history-row-1")
        await expect(history).to_contain_text("faulted")
        await expect(history).to_contain_text("sensor")
        assert not screen.errors, screen.errors


@pytest.mark.timeout(240)
async def test_caster_confirmation_from_the_touchscreen(tmp_path):
    async with ui_lab(tmp_path, flask_c=566.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await page.get_by_test_id("caster-card-caster1").click()
        await page.get_by_test_id("caster-start").click()
        await page.get_by_test_id("cast-kiln-kiln1").click()
        await page.get_by_test_id(f"cast-flask-{FLASK_ID}").click()
        await page.get_by_test_id(f"cast-alloy-{ALLOY}").click()
        await page.get_by_test_id(f"cast-class-{PIECE_CLASS}").click()
        await page.get_by_test_id("cast-melt-M-0031").click()
        await page.get_by_test_id("cast-submit").click()

        panel = page.get_by_test_id("caster-confirm-panel")
        await expect(panel).to_be_visible(timeout=120_000)  # the melt reaches pour temperature
        await expect(page.get_by_test_id("caster-confirm-text")).to_contain_text("flask")
        current = page.locator('[data-testid=caster-steps] li[data-current="true"]')
        await expect(current).to_have_attribute("data-step", "flask_transfer")
        await screenshots(page, "caster-confirmation", must_see=("caster-confirm",))
        await page.get_by_test_id("caster-confirm").click()  # before the flask is in
        await expect(page.get_by_test_id("message")).to_contain_text("no flask detected")
        lab.rig.sim.io.flask_present = True  # the technician places the flask
        await lab.rig.wait_for(lambda c: c["flask_present"], timeout_s=10)
        await page.get_by_test_id("caster-confirm").click()
        await expect(panel).to_be_hidden(timeout=WAIT_MS)
        outcome = await lab.rig.outcome(timeout_s=120)
        assert outcome == "completed", outcome
        await expect(page.get_by_test_id("caster-outcome")).to_contain_text("completed")
        status = await lab.rig.daemon.status()
        assert status is not None
        cast_id = status["history"][0]["id"]  # the cast's row in the run store
        exported = await lab.rig.command("ledger_export", cast_id=f"cast-{cast_id}")
        assert exported["ok"], exported
        certificate = Path(exported["result"]["certificate"])
        envelope = json.loads((certificate / "record.dsse.json").read_text())
        predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
        confirmed = [(c["step"], c["by"]) for c in predicate["confirmations"]]
        assert confirmed == [("flask_placed", "tech")], predicate  # signed with who confirmed
        assert not screen.errors, screen.errors


@pytest.mark.timeout(180)
async def test_refusals_at_the_touchscreen(tmp_path):
    async with ui_lab(tmp_path, flask_c=20.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url, size="800x480")
        page = screen.page
        error = page.get_by_test_id("signin-error")
        await sign_in(page, "tech", pin="9999")
        await expect(error).to_have_text("wrong badge or PIN")
        await screenshots(page, "signin-refused", must_see=("signin-submit", "key-0"))
        statuses = []
        for _ in range(8):  # wrong PINs, as fast as a person taps: after three, each one waits
            await type_keys(page, "signin-pin", "9999")
            async with page.expect_response("**/api/signin") as answer:
                await page.get_by_test_id("signin-submit").click()
            statuses.append((await answer.value).status)
            if statuses[-1] == 429:
                break
        assert statuses[-1] == 429 and statuses.count(401) >= 3, statuses
        await expect(error).to_contain_text("too many wrong PINs; try again in")
        wait_s = int(re.findall(r"try again in (\d+) s", await error.inner_text())[0])
        if wait_s >= 2:  # the countdown moves, once a second
            await expect(error).to_contain_text(f"try again in {wait_s - 1} s", timeout=1500)
        assert "tech (technician) signed in" not in lab.rig.log()

        page2 = (await open_screen(browser, lab.url)).page
        await page2.wait_for_timeout((wait_s + 1) * 1000)  # the lock has passed
        await sign_in(page2, "tech")
        await expect(page2.get_by_test_id("topbar-user")).to_contain_text("tech")
        before = (await lab.rig.command("ledger_status"))["result"]
        await page2.get_by_test_id("nav-history").click()
        await page2.get_by_test_id("ledger-rotate").click()
        await page2.get_by_test_id("confirm-yes").click()
        message = page2.get_by_test_id("message")
        await expect(message).to_contain_text("ledger_rotate needs a supervisor")
        after = (await lab.rig.command("ledger_status"))["result"]
        assert after == before  # no key rotation was appended
        assert not screen.errors, screen.errors


@pytest.mark.timeout(180)
async def test_a_fahrenheit_lab_sees_fahrenheit_everywhere(tmp_path):
    async with (
        ui_lab(tmp_path, flask_c=20.0, ui={"temperature_unit": "F"}) as lab,
        chromium() as browser,
    ):
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await page.get_by_test_id("kiln-card-kiln1").click()
        await page.get_by_test_id("kiln-start").click()
        await page.get_by_test_id(f"flask-{FLASK_ID}").click()
        await page.get_by_test_id(f"profile-{PROFILE}").click()
        await expect(page.get_by_test_id("start-casting-temp")).to_contain_text("°F")
        await page.get_by_test_id("start-submit").click()
        await expect(page.get_by_test_id("kiln-state")).to_have_attribute(
            "data-state", "running", timeout=WAIT_MS
        )
        status = await lab.rig.daemon.status()
        assert status is not None
        pv_f = status["kilns"][0]["pv_c"] * 9 / 5 + 32
        assert abs(await _pv(page) - pv_f) < 5  # the big number is in °F
        segment = page.get_by_test_id("kiln-segment")
        await expect(segment).to_contain_text("ramp to 300 °F at 270 °F/h")  # 149 °C, 150 °C/h
        segments = await page.get_by_test_id("kiln-segments").inner_text()
        assert "°C" not in segments and "1051 °F" in segments, segments  # final hold 566 °C
        assert not screen.errors, screen.errors


@pytest.mark.timeout(240)
async def test_a_double_tap_on_hold_holds_once(tmp_path):
    """Hold and Resume take the same place: the second tap of a double-tap (110 ms) on Hold,
    and a tap just as Hold comes back after a resume, are ignored (issue 11)."""
    async with ui_lab(tmp_path, flask_c=20.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url, size="800x480")
        page = screen.page
        await sign_in(page, "tech")
        await start_burnout(page, PROFILE)
        state = page.get_by_test_id("kiln-state")
        await expect(state).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        await page.wait_for_timeout(1200)  # Hold has been on screen for a while
        box = await page.get_by_test_id("kiln-hold").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        await tap(page, x, y)
        await page.wait_for_timeout(110)
        await tap(page, x, y)  # the finger's bounce: Hold is in flight, or Resume is there now
        await expect(state).to_have_attribute("data-state", "held", timeout=WAIT_MS)
        resume = page.get_by_test_id("kiln-resume")
        resumed = await resume.bounding_box()
        assert resumed is not None and abs(resumed["x"] - box["x"]) < box["width"]  # same place
        await page.wait_for_timeout(1500)  # a second command would have shown by now
        await expect(state).to_have_attribute("data-state", "held")
        status = await lab.rig.daemon.status()
        assert status is not None and status["kilns"][0]["state"] == "held", status
        assert (commands_done(lab, "hold"), commands_done(lab, "resume")) == (1, 0)

        await resume.click()  # a deliberate resume (Playwright waits until it may be tapped)
        await expect(state).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        await tap(page, x, y)  # at once, on the Hold that has just come back
        await page.wait_for_timeout(1500)
        await expect(state).to_have_attribute("data-state", "running")
        assert (commands_done(lab, "hold"), commands_done(lab, "resume")) == (1, 1)
        assert not screen.errors, screen.errors


@pytest.mark.timeout(240)
async def test_a_frozen_daemon_is_shown_as_no_contact(tmp_path):
    """SIGSTOP the daemon: its socket stays open and silent. Within 8 s the screen says since
    when it has had no contact, greys the values and disables Hold; SIGCONT clears it."""
    async with ui_lab(tmp_path, flask_c=20.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await start_burnout(page, PROFILE)
        state = page.get_by_test_id("kiln-state")
        await expect(state).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        hold = page.get_by_test_id("kiln-hold")
        await expect(hold).to_be_enabled(timeout=WAIT_MS)
        banner = page.get_by_test_id("conn-lost")
        await expect(banner).to_be_hidden()

        proc = lab.rig.daemon.proc
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)
        try:
            await expect(banner).to_be_visible(timeout=8000)
            since = re.compile(r"^No contact with the lab controller since \d\d:\d\d:\d\d")
            await expect(banner).to_contain_text(since)
            badge = re.compile(r"^no contact since \d\d:\d\d:\d\d$")
            await expect(state).to_have_text(badge, timeout=1000)
            await expect(state).to_have_attribute("data-state", "no-contact")
            await expect(hold).to_be_disabled()
            await expect(page.get_by_test_id("kiln-abort")).to_be_disabled()
            struck = await page.get_by_test_id("kiln-pv").evaluate(
                "e => getComputedStyle(e).textDecorationLine"
            )
            assert "line-through" in struck  # the last PV is marked, not shown as live
            await screenshots(page, "kiln-no-contact", must_see=("kiln-state", "conn-lost"))
            await hold.click(force=True, timeout=2000)  # a tap on the disabled button: nothing
        finally:
            proc.send_signal(signal.SIGCONT)
        await expect(banner).to_be_hidden(timeout=WAIT_MS)
        await expect(state).not_to_contain_text("no contact", timeout=WAIT_MS)
        await expect(state).not_to_have_attribute("data-state", "no-contact")
        status = await lab.rig.daemon.status()
        assert status is not None
        if status["kilns"][0]["state"] == "running":  # (it may have faulted meanwhile)
            await expect(hold).to_be_enabled(timeout=WAIT_MS)
        assert commands_done(lab, "hold") == 0
        assert not screen.errors, screen.errors


@pytest.mark.timeout(180)
async def test_a_fahrenheit_lab_reads_refusals_with_differences_in_fahrenheit(tmp_path):
    """A new burnout on a kiln at 566 °C is refused with the numbers: a °F lab reads the kiln's
    temperature in °F and how far above the loading temperature it is (a difference) without
    the 32, the band too."""
    async with (
        ui_lab(tmp_path, flask_c=566.0, ui={"temperature_unit": "F"}) as lab,
        chromium() as browser,
    ):
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await start_burnout(page, PROFILE)
        message = page.get_by_test_id("message")
        await expect(message).to_contain_text("above the loading temperature", timeout=WAIT_MS)
        text = await message.inner_text()
        assert "°C" not in text, text
        found = re.search(r"the kiln is at (\d+) °F, (\d+) °F above the loading", text)
        assert found is not None, text
        pv_f, above_f = int(found[1]), int(found[2])
        loading_f = 149 * 9 / 5 + 32  # gypsum-wax-small's first target: 149 °C
        assert 900 < pv_f <= 566 * 9 / 5 + 32 + 5, text  # the kiln cools from 566 °C (1051 °F)
        assert abs(above_f - (pv_f - loading_f)) <= 2, text  # a difference: no 32 added
        assert "(300 °F, the target of its first segment; band 27 °F)" in text, text
        assert not screen.errors, screen.errors


async def test_a_hot_kiln_and_cool_first_in_programmer_mode_is_refused_with_the_reason(tmp_path):
    """Issue 12: the start form offers "Cool first" for a kiln hotter than the first segment.
    This rig's kiln runs its program on the controller, which would heat at once: the screen
    shows why it is refused, and nothing starts (stream mode: hil_tests/test_hot_kiln_start.py)."""
    async with ui_lab(tmp_path, flask_c=566.0) as lab, chromium() as browser:
        screen = await open_screen(browser, lab.url)
        page = screen.page
        await sign_in(page, "tech")
        await start_burnout(page, PROFILE, cool_first=True)
        message = page.get_by_test_id("message")
        await expect(message).to_contain_text("runs its program on the controller", timeout=WAIT_MS)
        status = await lab.rig.daemon.status()
        assert status is not None and status["kilns"][0]["run_id"] is None, status
        assert not screen.errors, screen.errors
