"""End to end in headless Chromium: a reviewer adopts Bidcliq's inferred type."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from audit.models import TypeReclassification
from crawler.policy import apply_probe_results
from probe import ProbeResult
from registry.models import Agent
from tests.backfill_fixtures import frozen
from tests.factories import make_staff

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser(request: pytest.FixtureRequest, settings: Any) -> Iterator[WebDriver]:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium and chromium-driver (bin/services.sh installs them)")
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # The live server speaks plain HTTP; whether Chromium keeps a Secure cookie
    # from http://localhost is its choice, and the login must not depend on it.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def _navigate_by_clicking(driver: WebDriver, element: WebElement) -> None:
    """Click and wait for the next page: click() returns before the browser has left the old one."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = driver.find_element("tag name", "html")
    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(old_page))


def _shot(request: pytest.FixtureRequest, driver: WebDriver, name: str) -> None:
    folder = request.config.getoption("--screenshots")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def test_a_reviewer_adopts_the_inferred_type_of_bidcliq(
    live_server: LiveServer, browser: WebDriver, request: pytest.FixtureRequest
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    bidcliq = frozen("bidcliq", "buying", None).agent
    apply_probe_results(
        [(bidcliq.pk, ProbeResult(bidcliq.url, "mcp", tool_names=["get_products", "create_media_buy"]))]
    )
    frozen("swivel", "buying", "sales")
    reviewer = make_staff(
        "rita",
        superuser=False,
        permissions=("view_disagreement", "review_disagreements", "view_agent", "view_typereclassification"),
    )
    reviewer.set_password("review-pass-1")
    reviewer.save()
    driver = browser
    base = live_server.url

    driver.get(f"{base}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys("rita")
    driver.find_element(By.NAME, "password").send_keys("review-pass-1")
    _navigate_by_clicking(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    assert "Registry administration" in driver.title, driver.find_element(By.TAG_NAME, "body").text

    _navigate_by_clicking(driver, driver.find_element(By.LINK_TEXT, "Review disagreements"))
    _shot(request, driver, "1-disagreements")
    row = driver.find_element(By.XPATH, f"//tr[.//a[text()='{bidcliq.url}']]")
    assert "get_products" in row.text and "buying" in row.text
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(driver.find_element(By.NAME, "action")).select_by_value("adopt_inferred_type")
    _navigate_by_clicking(driver, driver.find_element(By.NAME, "index"))

    plan = driver.find_element(By.ID, "change-plan").text
    assert bidcliq.url in plan and "swivel" not in plan
    assert Agent.objects.get(pk=bidcliq.pk).type == "buying"  # nothing written by the first step
    _shot(request, driver, "2-confirmation")
    driver.find_element(By.ID, "id_note").send_keys("Bidcliq confirmed they sell")
    _navigate_by_clicking(driver, driver.find_element(By.CSS_SELECTOR, "form input[type=submit]"))

    assert "1 agent reclassified" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
    remaining = driver.find_element(By.ID, "result_list").text
    assert "swivel" in remaining and bidcliq.url not in remaining
    assert Agent.objects.get(pk=bidcliq.pk).type == "sales"

    driver.get(f"{base}/admin/registry/agent/{bidcliq.pk}/change/")
    _navigate_by_clicking(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "Type changes of this agent"))
    history = driver.find_element(By.ID, "result_list").text
    _shot(request, driver, "3-history")
    assert "Admin review" in history and "rita" in history
    assert TypeReclassification.objects.get(source="admin_review").notes["note"] == "Bidcliq confirmed they sell"
