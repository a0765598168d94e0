"""End to end in headless Chromium at 1366x768: a reviewer works through the demo's disagreements."""

import io
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
from registry.models import Agent
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
        "--window-size=1366,768",
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


def _inside_the_viewport(driver: WebDriver, *columns: str) -> None:
    """Each key column's header ends inside the 1366 px window: nothing behind a horizontal scroll."""
    from selenium.webdriver.common.by import By

    # The list scrolls inside its own box: a column is seen only within both.
    visible = driver.execute_script(
        "return Math.min(document.documentElement.clientWidth,"
        " document.querySelector('#changelist .results').getBoundingClientRect().right)"
    )
    for column in columns:
        header = driver.find_element(By.CSS_SELECTOR, f"#result_list th.column-{column}")
        right = driver.execute_script("return arguments[0].getBoundingClientRect().right", header)
        assert right <= visible + 1, f"the {column} column ends at {right} px, past the {visible} px visible"


def _decide(driver: WebDriver, button: str, note: str) -> str:
    """Adopt or keep from the review page, through its confirmation; the confirmation's text."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "id_note").send_keys(note)
    _navigate_by_clicking(driver, driver.find_element(By.ID, button))
    confirmation = driver.find_element(By.ID, "change-plan").text
    _navigate_by_clicking(driver, driver.find_element(By.CSS_SELECTOR, "form input[type=submit]"))
    return confirmation


def test_a_reviewer_works_through_the_demo_disagreements(
    live_server: LiveServer, browser: WebDriver, request: pytest.FixtureRequest, demo_fleet: str
) -> None:
    from django.core.management import call_command
    from selenium.webdriver.common.by import By

    call_command("seed_demo", fleet_url=demo_fleet, verbosity=0)
    call_command("crawl_agents", sync=True, timeout=2.0, stdout=io.StringIO())
    bidcliq, swivel = (Agent.objects.get(registration__profile__slug=slug) for slug in ("bidcliq", "swivel"))
    assert set(Agent.objects.open_disagreements().values_list("pk", flat=True)) == {bidcliq.pk, swivel.pk}
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
    _inside_the_viewport(driver, "agent", "member", "type", "inferred_type", "evidence", "since")
    row = driver.find_element(By.XPATH, f"//tr[.//span[@title='{bidcliq.url}']]")
    assert "get_products" in row.text and "Buying" in row.text

    _navigate_by_clicking(driver, row.find_element(By.TAG_NAME, "a"))
    _shot(request, driver, "2-review-bidcliq")
    facts = {
        name: driver.find_element(By.ID, name).text for name in ("declared-type", "published-type", "inferred-type")
    }
    assert facts["declared-type"] == "Buying" and facts["published-type"] == "Buying"
    assert facts["inferred-type"].startswith("Sales") and "a sales agent" in facts["inferred-type"]
    assert "Bidcliq" in driver.find_element(By.CLASS_NAME, "evidence-facts").text
    assert "get_products" in driver.find_element(By.ID, "advertised-tools").text
    assert "not applied" in driver.find_element(By.ID, "type-history").text

    confirmation = _decide(driver, "adopt", "Bidcliq confirmed they sell")
    assert bidcliq.url in confirmation and "get_products" in confirmation and swivel.url not in confirmation
    # Applied, and straight on to the next disagreement.
    assert "1 agent reclassified" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert swivel.url in driver.find_element(By.CLASS_NAME, "agent-url").text
    assert Agent.objects.get(pk=bidcliq.pk).type == "sales"
    _shot(request, driver, "3-review-swivel")

    _decide(driver, "keep", "Swivel really buys")
    assert "1 agent kept as published" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert Agent.objects.get(pk=swivel.pk).type == "buying"

    driver.get(f"{base}/admin/audit/typereclassification/?source__exact=admin_review")
    _shot(request, driver, "4-audit-reviews")
    _inside_the_viewport(driver, "changed_at", "agent", "what_happened", "source", "run_link", "actor")
    reviews = driver.find_element(By.ID, "result_list").text
    assert "reviewer adopted the probe's sales over buying" in reviews
    assert "reviewer kept buying over the probe's sales" in reviews
    driver.get(f"{base}/admin/audit/typereclassification/?source__exact=crawler_disagreement")
    disagreements = driver.find_element(By.ID, "result_list").text
    assert disagreements.count("probe says sales; published stays buying; not applied") == 2
    assert TypeReclassification.objects.get(agent_url=bidcliq.url, source="admin_review").notes["note"] == (
        "Bidcliq confirmed they sell"
    )

    driver.get(f"{base}/admin/registry/agent/{bidcliq.pk}/change/")
    _shot(request, driver, "5-agent")
    assert "active" in driver.find_element(By.CSS_SELECTOR, ".field-paused").text
    driver.execute_script("document.getElementById('probe-history').scrollIntoView()")
    _shot(request, driver, "6-agent-probes")
    assert "1 of 1 answered" in (driver.find_element(By.ID, "probe-history").get_attribute("innerHTML") or "")
    assert "get_products" in driver.find_element(By.ID, "advertised-tools").text


def test_the_dashboard_fits_its_cards_at_1366_and_1920(
    live_server: LiveServer, browser: WebDriver, request: pytest.FixtureRequest
) -> None:
    from selenium.webdriver.common.by import By

    from tests.dashboard_history import make_history

    make_history(400)
    staff = make_staff("dana")
    staff.set_password("dash-pass-1")
    staff.save()
    driver = browser
    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys("dana")
    driver.find_element(By.NAME, "password").send_keys("dash-pass-1")
    _navigate_by_clicking(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    for width, height in ((1366, 768), (1920, 1080)):
        driver.set_window_size(width, height)
        driver.get(f"{live_server.url}/admin/dashboard/")
        _shot(request, driver, f"dashboard-{width}")
        # Every chart, and every label in it, inside its card; no page wider than the window.
        outside = driver.execute_script(
            """
            const out = [];
            for (const card of document.querySelectorAll('.dash section')) {
              const box = card.getBoundingClientRect();
              for (const node of card.querySelectorAll('svg, svg text, svg rect')) {
                const r = node.getBoundingClientRect();
                if (r.width && (r.left < box.left - 1 || r.right > box.right + 1))
                  out.push(`${card.id}: ${(node.textContent || node.tagName).slice(0, 40)} ${r.left}..${r.right}`);
              }
            }
            if (document.documentElement.scrollWidth > document.documentElement.clientWidth)
              out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth);
            return out;
            """
        )
        assert outside == [], (width, outside)
        labels = driver.execute_script(
            "return [...document.querySelectorAll('#agents-by-type svg text')].map(t => t.textContent)"
        )
        assert {"Sales", "Rights", "Measurement", "Buying", "Unclassified"} <= set(labels)


@pytest.mark.parametrize("page,rendered", [("/api/docs/", ".swagger-ui .info .title"), ("/api/redoc/", "h1")])
def test_the_api_documentation_renders_from_the_project_alone(
    live_server: LiveServer, browser: WebDriver, page: str, rendered: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # Whatever the page's own policy refuses, Chromium never sends: note each refusal from the start.
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "window.refused = []; document.addEventListener("
            "'securitypolicyviolation', e => window.refused.push(e.blockedURI));"
        },
    )
    browser.get(f"{live_server.url}{page}")
    title = WebDriverWait(browser, 20).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, rendered))
    )
    assert "Agent registry API" in title.text
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    refused = browser.execute_script("return window.refused")
    assert any(url.endswith("/api/schema") for url in fetched)
    left = [url for url in fetched if not url.startswith(live_server.url) and url not in refused]
    assert left == [], f"requests that left 127.0.0.1: {left}"
