"""A browser through `python -m adapter serve`: the sample app's page under the REST stage, its form, a short
link followed and its click counted. Debian's chromium and chromium-driver (scripts/install) drive it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sample_app.settings import Settings
from tests.adapter.local.conftest import serving_template

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (scripts/install adds them when run as root)",
)


@pytest.fixture
def served_sample_app(links_settings: Settings) -> Iterator[str]:
    """The sample app from template.yaml behind `serve` (REST API, stage live), on its own table."""
    with serving_template(links_settings, "/live/") as url:
        yield url


def test_create_follow_and_count_a_link_in_a_browser(served_sample_app: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        # Lookups wait for the page that a click or a redirect loads.
        driver.implicitly_wait(10)
        try:
            driver.get(served_sample_app)
            assert driver.title == "Links"
            # The target is the API's own health route, so that following the link stays on this machine.
            driver.find_element(By.NAME, "url").send_keys(served_sample_app + "health")
            driver.find_element(By.NAME, "code").send_keys("browser1")
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            link = driver.find_element(By.LINK_TEXT, "browser1")
            # The page's links carry the stage, as the adapter gave the app its root_path.
            assert link.get_attribute("href") == served_sample_app + "r/browser1"
            link.click()
            assert '"status":"ok"' in driver.page_source.replace(" ", "")
            assert driver.current_url == served_sample_app + "health"
            driver.get(served_sample_app)
            row = driver.find_element(By.LINK_TEXT, "browser1").find_element(By.XPATH, "./ancestor::tr")
            assert row.find_element(By.CSS_SELECTOR, "td.clicks").text == "1"
        finally:
            driver.quit()
