"""A real browser against a real server, for tests/test_web_browser.py and bench/screens.py.

The browser is Debian's Chromium driven through Selenium and Debian's chromedriver (the same
package version, so they always match; nothing is downloaded: Selenium Manager is told to stay
offline and is never needed, since both paths are given). The server is `aidlgraph serve` in a
subprocess on 127.0.0.1 and a free port.

Where Chromium, its driver or Selenium is missing, ``browser_missing()`` says what to install.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("chromedriver", "/usr/lib/chromium/chromedriver")
INSTALL = ("install Debian's Chromium and its driver (`sudo apt-get install -y chromium chromium-driver`) "
           "and Selenium (`pip install -e '.[test]'`)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US")


def _which(names) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """None when a browser can be driven here, else what is missing and how to install it."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"Selenium is not installed; {INSTALL}"
    if not _which(CHROMIUM):
        return f"Chromium is not installed; {INSTALL}"
    if not _which(CHROMEDRIVER):
        return f"chromedriver is not installed; {INSTALL}"
    return None


def start_browser(javascript: bool = True, width: int = 1280, height: int = 900):
    """A headless Chromium (a fresh profile) under Selenium, recording its network requests."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="aidlgraph-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(_which(CHROMEDRIVER)))
    driver.profile_dir = profile
    return driver


def stop_browser(driver) -> None:
    with contextlib.suppress(Exception):
        driver.quit()
    shutil.rmtree(getattr(driver, "profile_dir", ""), ignore_errors=True)


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call (from the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def other_hosts(urls: list[str], base: str) -> list[str]:
    """The URLs that went to another host than the server at ``base`` (data: and the like are
    not requests to a host)."""
    own = urllib.parse.urlsplit(base).netloc
    return [u for u in urls if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urllib.parse.urlsplit(u).netloc != own]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(library: Path, timeout: float = 120.0):
    """`aidlgraph serve` on ``library`` (127.0.0.1, a free port): yields its base URL."""
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "aidlgraph", "--library", str(library), "serve", "--port", str(port),
                             "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"aidlgraph serve exited with {proc.returncode}: {log.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"aidlgraph serve did not answer /healthz within {timeout:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
