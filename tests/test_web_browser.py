"""The web pages as a person uses them: headless Chromium (Debian's package, driven by Selenium;
see tests/browser.py) against a real `aidlgraph serve` on 127.0.0.1 serving the shipped corpus.

Type a topic and pick a suggestion, see the graph and the steps, tick a known topic and watch the
path shrink, paste a draft, ask a question, open an item; the path page again with JavaScript
off; /docs offline; and never a request to another host. Skipped, with how to install it, where
Chromium is not installed.
"""
from __future__ import annotations

import shutil
import urllib.parse

import pytest

from browser import browser_missing, other_hosts, requested_urls, served, start_browser, stop_browser

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"no browser to drive: {MISSING}")
WAIT = 30


@pytest.fixture(scope="module")
def site(shipped_library_path, tmp_path_factory):
    """The shipped library (a private copy: the server writes its query cache) served on loopback."""
    copy = tmp_path_factory.mktemp("web-browser") / "lib"
    shutil.copytree(shipped_library_path, copy)
    with served(copy) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    stop_browser(driver)


@pytest.fixture(scope="module")
def plain_browser():
    """Chromium with JavaScript turned off."""
    driver = start_browser(javascript=False)
    yield driver
    stop_browser(driver)


@pytest.fixture
def leaks(browser, plain_browser, site):
    """After the test: every request both browsers made went to the server."""
    requested_urls(browser), requested_urls(plain_browser)  # start from an empty log
    yield
    urls = requested_urls(browser) + requested_urls(plain_browser)
    assert urls, "the performance log recorded no request at all"
    assert other_hosts(urls, site) == []


def wait_for(driver, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def steps_and_nodes(driver) -> tuple[int, dict[str, str]]:
    nodes = {n.get_attribute("data-topic"): n.get_attribute("class") for n in css(driver, "svg.graph .node")}
    return len(css(driver, "li.step")), nodes


def test_a_learner_types_a_topic_picks_a_suggestion_and_ticks_what_they_know(browser, site, leaks):
    from selenium.webdriver.common.keys import Keys

    browser.get(site + "/")
    box = css(browser, "#q")[0]
    assert box == browser.switch_to.active_element  # the search box has the focus
    box.send_keys("segm")
    options = wait_for(browser, lambda d: [o for o in css(d, "#q-suggestions [role=option]") if o.is_displayed()])
    assert "semantic segmentation" in [o.text.split("\n")[0] for o in options]
    assert box.get_attribute("aria-expanded") == "true"
    for _ in range([o.text.split("\n")[0] for o in options].index("semantic segmentation") + 1):
        box.send_keys(Keys.ARROW_DOWN)  # the keyboard moves through the suggestions
    assert box.get_attribute("aria-activedescendant")
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: d.current_url.endswith("/path/semantic-segmentation"))
    wait_for(browser, lambda d: css(d, "svg.graph .node.target"))
    steps, nodes = steps_and_nodes(browser)
    assert steps > 5 and len(nodes) > 5 and "target" in nodes["semantic-segmentation"]
    assert all("todo" in cls or "target" in cls for cls in nodes.values())
    assert css(browser, "h1")[0].text == "Reading path to semantic segmentation"

    toggle = css(browser, "#topic-neural-networks input[name=known]")[0]
    toggle.click()  # ticking recomputes the path in place, and the address follows
    wait_for(browser, lambda d: "known=neural-networks" in d.current_url)
    wait_for(browser, lambda d: "known" in (steps_and_nodes(d)[1].get("neural-networks") or ""))
    fewer, nodes = steps_and_nodes(browser)
    assert fewer < steps and not css(browser, "#topic-neural-networks")
    assert "neural networks" in css(browser, ".known-summary")[0].text
    focused = browser.switch_to.active_element  # the focus stays on the topic just ticked
    assert focused.get_attribute("value") == "neural-networks" and focused.is_selected()

    focused.send_keys(Keys.SPACE)  # unticking it from the keyboard brings the steps back
    wait_for(browser, lambda d: "known=" not in d.current_url and len(css(d, "li.step")) == steps)
    browser.back()  # the address history is the path history
    wait_for(browser, lambda d: "known=neural-networks" in d.current_url and len(css(d, "li.step")) == fewer)


def test_the_path_page_works_without_javascript(plain_browser, site, leaks):
    driver = plain_browser
    driver.get(site + "/")
    box = css(driver, "#q")[0]
    box.send_keys("image segmentation")  # an alias; the server resolves it and redirects
    css(driver, "form.search button[type=submit]")[0].click()
    wait_for(driver, lambda d: d.current_url.endswith("/path/semantic-segmentation"))
    steps, nodes = steps_and_nodes(driver)
    assert steps > 5 and "target" in nodes["semantic-segmentation"]
    update = css(driver, "button.update")[0]
    assert update.is_displayed()  # without the script, the form is submitted by its button
    css(driver, "#topic-neural-networks input[name=known]")[0].click()
    update.click()
    wait_for(driver, lambda d: "known=neural-networks" in d.current_url)
    fewer, nodes = steps_and_nodes(driver)
    assert fewer < steps and "known" in nodes["neural-networks"]
    titles = [a.text for a in css(driver, "li.step .step-title a")]
    assert titles and all(titles)


def test_a_curator_pastes_a_draft_and_opens_an_item(browser, site, leaks):
    draft = ("Faster host-to-device copies in CUDA\n\nPinned (page-locked) host memory makes cudaMemcpy between the CPU "
             "and the GPU much faster, and copies can overlap kernels on separate streams.")
    browser.get(site + "/related")
    css(browser, "#draft")[0].send_keys(draft)
    css(browser, ".related-form button[type=submit]")[0].click()
    results = wait_for(browser, lambda d: css(d, "li.result"))
    assert len(results) == 10
    first = results[0]
    assert "Data Transfers" in first.text and "Why:" in first.text
    assert css(browser, "#draft")[0].get_attribute("value").startswith("Faster host-to-device copies")
    title = first.find_element("css selector", ".result-title").text
    first.find_element("css selector", ".more a").click()
    wait_for(browser, lambda d: "/items/" in d.current_url)
    assert css(browser, "h1")[0].text == title
    assert css(browser, ".topic-list a") and css(browser, "svg.graph .node.focus")


def test_a_member_asks_and_gets_numbered_sources_or_i_dont_know(browser, site, leaks):
    browser.get(site + "/ask")
    field = css(browser, "#question")[0]
    field.send_keys("where can I learn CUDA?\n")
    sources = wait_for(browser, lambda d: css(d, "ol.sources li"))
    assert css(browser, "#answer-h")[0].text == "Answer" and len(sources) >= 2
    assert css(browser, ".answer-text")[0].text.strip()
    browser.get(site + "/ask?" + urllib.parse.urlencode({"q": "What will the weather be in Lisbon tomorrow?"}))
    assert css(browser, "#answer-h")[0].text == "I don't know" and not css(browser, "ol.sources")


def test_pages_fit_a_phone_and_docs_work_offline(browser, site, leaks):
    browser.set_window_size(390, 844)
    try:
        for url in ("/", "/path/semantic-segmentation", "/related", "/ask", "/topics/semantic-segmentation"):
            browser.get(site + url)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= browser.execute_script("return window.innerWidth"), f"{url} scrolls sideways on a phone"
    finally:
        browser.set_window_size(1280, 900)
    browser.get(site + "/docs")
    wait_for(browser, lambda d: "aidlgraph" in " ".join(e.text for e in css(d, ".swagger-ui .info .title")))
    assert len(css(browser, ".opblock")) >= 8  # every endpoint listed, from the local Swagger UI
