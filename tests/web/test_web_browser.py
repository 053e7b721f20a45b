"""The web view in a real headless Chromium (Debian's, driven by Playwright), phone-sized.

Log in as the JS team, see only JS alerts, acknowledge one, go to its case, upload a photo, report
"on site" with the browser's position, close the case; a screenshot of the phone-sized alert page
is kept (``BORDERWATCH_DOCS_SCREENSHOTS=1`` also writes docs/web-alert.png).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from web_testkit import JS_MINOR_ALERT, JS_SH_ALERT, ZJ_ALERT, start_web_world

from coordination.cases import case_id_for

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it: apt-get install chromium "
                    "chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_js_team_on_a_phone_acks_uploads_a_photo_and_closes_a_case(browser, tmp_path: Path) -> None:
    photo = tmp_path / "roof-antenna.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4096))
    for world in start_web_world(tmp_path / "w"):
        base = f"https://127.0.0.1:{world.web.port}"
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, ignore_https_errors=True,
                                      geolocation={"latitude": 31.4112, "longitude": 121.0671, "accuracy": 9},
                                      permissions=["geolocation"], locale="en-GB")
        page = context.new_page()
        page.goto(f"{base}/")
        assert page.url.endswith("/login")
        page.fill("#token", world.tokens["js-team"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        alert_ids = page.eval_on_selector_all("#alerts li", "els => els.map(e => e.dataset.alert)")
        assert sorted(alert_ids) == sorted([JS_SH_ALERT, JS_MINOR_ALERT])
        assert ZJ_ALERT not in page.content()

        page.click(f"li[data-alert='{JS_SH_ALERT}'] a")
        page.wait_for_url(f"{base}/alerts/{JS_SH_ALERT}")
        page.fill("#ack-note", "team 3 driving to Huaqiao")
        page.click("#ack")
        page.wait_for_url(f"{base}/alerts/{JS_SH_ALERT}")
        assert "acknowledged" in page.inner_text("#alert-state")
        assert world.centre.alert(JS_SH_ALERT)["acknowledged_by"] == "js-team"
        shot = tmp_path / "web-alert.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("BORDERWATCH_DOCS_SCREENSHOTS") == "1":
            shutil.copyfile(shot, DOCS / "web-alert.png")

        page.click("#case-link")  # a major alert: the server opened its case, held by JS (the source)
        case_id = case_id_for(JS_SH_ALERT)
        page.wait_for_url(f"{base}/cases/{case_id}")
        page.set_input_files("#file", str(photo))
        page.click("#upload")
        page.wait_for_url(f"{base}/cases/{case_id}?done=attach")
        assert page.locator("#attachments img.photo").count() == 1
        assert page.evaluate("document.querySelector('#attachments img.photo').naturalWidth") >= 0

        page.click("#on-site")
        page.wait_for_url(f"{base}/cases/{case_id}?done=on_site")

        page.select_option("#outcome", "stopped")
        page.fill("#summary", "unlicensed repeater on a warehouse roof switched off")
        page.click("#close")
        page.wait_for_url(f"{base}/cases/{case_id}?done=close")
        assert "closed" in page.inner_text("#case-state")

        c = world.centre.case_json(case_id)
        assert [(e["kind"], e["actor"]) for e in c["events"]] == [
            ("opened", "server"), ("attachment", "js-team"), ("on_site", "js-team"), ("closed", "js-team")]
        assert c["on_site"][0]["lat"] == pytest.approx(31.4112, abs=1e-6)
        assert c["attachments"][0]["size_bytes"] == photo.stat().st_size
        assert (c["outcome"], c["closed_by"]) == ("stopped", "js-team")
        context.close()
