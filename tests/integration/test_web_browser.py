"""The web view in headless Chromium, as a person uses it: the overview, a story, a claim's
timeline (both sides shown), a search, retrying a dead letter. Debian's chromium and
chromium-driver (installed by .ci/run), driven by selenium; nothing is downloaded at run
time. Screenshots go to test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from monitor.store import Store
from monitor.web import WebSettings
from tests.conftest import ROOT
from tests.integration.webdata import WebData, populate
from tests.servers import running_web

pytestmark = pytest.mark.browser

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> WebData:
    return populate(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def base(data: WebData) -> Iterator[str]:
    settings = WebSettings(data.database, "127.0.0.1", 0, None, data.config)
    with running_web(settings) as server:
        yield server.url.rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert os.access(DRIVER, os.X_OK), (
        "the browser tests need Debian's chromium and chromium-driver "
        "(apt-get install -y chromium chromium-driver; .ci/run installs them)"
    )
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager: never look anything up
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="nm-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)  # a click that loads a page: wait for what it should show
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: webdriver.Chrome, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    return path


def test_overview_then_a_story_then_its_claim(browser, base, data):
    browser.get(base + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
    assert "Dead letters" in browser.page_source
    # the hostile headline is text on the page, not a script that ran
    assert '<script>alert("owned")</script>' in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "overview")

    browser.find_element(By.CSS_SELECTOR, f'a[href="/stories/{data.story_id}"]').click()
    assert browser.current_url.endswith(f"/stories/{data.story_id}")
    reports = browser.find_elements(By.CSS_SELECTOR, "table.reports tbody tr")
    assert len(reports) >= 3
    assert "copy of #" in browser.find_element(By.CSS_SELECTOR, "table.reports").text
    shot(browser, "story")

    browser.find_element(By.CSS_SELECTOR, f'a[href="/claims/{data.claim_id}"]').click()
    assert browser.current_url.endswith(f"/claims/{data.claim_id}")
    sides = {
        e.get_attribute("class").split()[-1]: e
        for e in browser.find_elements(By.CSS_SELECTOR, ".sides .side")
    }
    assert set(sides) == {"for", "against"}
    assert all(s.is_displayed() for s in sides.values())
    confirming = browser.find_elements(By.CSS_SELECTOR, "blockquote.report.for")
    contradicting = browser.find_elements(By.CSS_SELECTOR, "blockquote.report.against")
    assert confirming and contradicting
    assert any("no plans to congratulate" in e.text for e in confirming)
    assert any("Verstka" in e.text for e in contradicting)
    # side by side: the contradicting reports sit in the right-hand column
    assert contradicting[0].location["x"] > confirming[0].location["x"] + 200
    shot(browser, "claim")


def test_search_and_try_a_rule(browser, base):
    browser.get(base + "/search")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("Kremlin")
    browser.find_element(By.ID, "search-text").click()
    marks = browser.find_elements(By.CSS_SELECTOR, "ol.hits mark")
    assert marks and marks[0].text.lower() == "kremlin"
    shot(browser, "search")

    browser.get(base + "/search")
    browser.find_element(By.NAME, "rule").send_keys("Putin AND congratulat*")
    browser.find_element(By.ID, "search-rule").click()
    hits = browser.find_elements(By.CSS_SELECTOR, "li.rule-hit")
    assert hits and "Putin" in hits[0].text
    shot(browser, "try-a-rule")


def test_retry_a_dead_letter(browser, base, data):
    browser.get(base + "/alerts?status=failed")
    row = browser.find_element(By.ID, f"alert-{data.dead_letter}")
    assert "failed" in row.text
    row.find_element(By.CSS_SELECTOR, "button.retry").click()
    done = browser.find_element(By.CSS_SELECTOR, "p.done")
    assert "1 alert queued again" in done.text
    shot(browser, "retried")
    store = Store.open(data.database, readonly=True)
    try:
        alert = store.alert(data.dead_letter)
    finally:
        store.close()
    assert alert is not None and alert.status == "pending" and alert.attempts == 0
