"""Screenshots (PNG) of every web page for a library, as a person's browser shows them.

    .venv/bin/python bench/screens.py --out screens/                       # the configured library
    .venv/bin/python bench/screens.py --library DIR --out screens/ --topic "cuda basics" --known "c programming"

Starts `aidlgraph serve` on the library (127.0.0.1, a free port), drives Debian's headless
Chromium (see tests/browser.py; `apt-get install -y chromium chromium-driver`), and saves:
home (with the topic box's suggestions open), the path page on a desktop and on a phone, the
path with a known topic ticked, the path page with JavaScript off, related items for a draft,
an answer and an "I don't know", an item, a topic, the topic list and the API docs. Prints each
file with the page's size and whether any request went to another host (it should be none).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import browser_missing, other_hosts, requested_urls, served, start_browser, stop_browser  # noqa: E402

DRAFT = """Faster host-to-device copies in CUDA

Pinned (page-locked) host memory makes cudaMemcpy between the CPU and the GPU much faster, and
lets copies overlap with kernels on separate streams. We measured the bandwidth of pageable and
pinned transfers on a consumer GPU."""
MAX_HEIGHT = 5000


def fetch_json(url: str):
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=60) as r:
        return json.loads(r.read())


def shoot(driver, path: Path, width: int, full: bool = True, cut: int = MAX_HEIGHT) -> tuple[int, int]:
    """Save the page (the whole page when ``full``, up to ``cut`` px) at ``width`` px as PNG."""
    driver.set_window_size(width, 900)
    height = 900
    if full:
        height = min(cut, int(driver.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")))
        driver.set_window_size(width, max(height, 400))
        # the window is taller than the page's viewport by the browser's own bars
        extra = int(driver.execute_script("return window.outerHeight - window.innerHeight"))
        driver.set_window_size(width, max(height, 400) + extra)
        time.sleep(0.2)
    driver.save_screenshot(str(path))
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", help="library directory (default: the configured one, built if missing)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "screens"), help="folder for the PNGs")
    parser.add_argument("--topic", default="semantic segmentation")
    parser.add_argument("--known", default="neural networks", help="a topic of the path to tick as known")
    parser.add_argument("--question", default="where can I learn CUDA?")
    parser.add_argument("--height", type=int, default=MAX_HEIGHT,
                        help=f"cut each picture at this many pixels (default {MAX_HEIGHT}: the whole page)")
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        sys.exit(f"bench/screens.py: {missing}")
    from aidlgraph.build.bootstrap import open_or_create

    with open_or_create(args.library) as lib:
        library = lib.path
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with served(library) as base:
        path = fetch_json(f"{base}/path?" + urllib.parse.urlencode({"q": args.topic}))
        target = path["steps"][-1]["topic_id"]
        known = next((s["topic_id"] for s in path["steps"] if s["topic"] == args.known), path["steps"][0]["topic_id"])
        related = fetch_json(f"{base}/related?" + urllib.parse.urlencode({"q": DRAFT[:400], "k": 5}))
        item = related["results"][0]["id"] if related["results"] else path["steps"][-1].get("id", "")
        pages = [
            ("path", f"/path/{target}", 1280), ("path-phone", f"/path/{target}", 390),
            ("path-known", f"/path/{target}?known={known}", 1280),
            ("ask", "/ask?" + urllib.parse.urlencode({"q": args.question}), 1280),
            ("ask-abstain", "/ask?" + urllib.parse.urlencode({"q": "what will the weather be in Lisbon tomorrow?"}), 1280),
            ("item", f"/items/{item}", 1280), ("topic", f"/topics/{target}", 1280), ("topics", "/topics", 1280),
            ("docs", "/docs", 1280),
        ]
        driver = start_browser()
        try:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support import expected_conditions as ec
            from selenium.webdriver.support.ui import WebDriverWait

            wait = WebDriverWait(driver, 30)
            report = []
            driver.get(base + "/")
            box = wait.until(ec.element_to_be_clickable((By.ID, "q")))
            box.send_keys(args.topic[:4])
            wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#q-suggestions [role=option]")))
            report.append(("home", shoot(driver, out / "home.png", 1280, full=False)))
            for name, url, width in pages:
                driver.set_window_size(width, 900)
                driver.get(base + url)
                if name == "docs":
                    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info")))
                report.append((name, shoot(driver, out / f"{name}.png", width, cut=args.height)))
            driver.get(base + "/related")
            driver.find_element(By.ID, "draft").send_keys(DRAFT)
            driver.find_element(By.CSS_SELECTOR, ".related-form button[type=submit]").click()
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".result-list")))
            report.append(("related", shoot(driver, out / "related.png", 1280, cut=args.height)))
            leaks = other_hosts(requested_urls(driver), base)
        finally:
            stop_browser(driver)
        nojs = start_browser(javascript=False)
        try:
            nojs.get(f"{base}/path/{target}")
            report.append(("path-nojs", shoot(nojs, out / "path-nojs.png", 1280, cut=args.height)))
            leaks += other_hosts(requested_urls(nojs), base)
        finally:
            stop_browser(nojs)
    for name, (width, height) in report:
        print(f"{out / (name + '.png')}  {width}x{height}")
    print(f"requests to another host: {len(leaks)}" + (f" ({', '.join(sorted(set(leaks))[:5])})" if leaks else ""))


if __name__ == "__main__":
    main()
