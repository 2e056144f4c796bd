"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol: open a page, wait
until its rendered text shows what we expect, save a screenshot. No driver binary needed, only
the browser and a WebSocket client."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import connect

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# The UI renders asynchronously (GraphQL fetches, graph layout in a web worker).
RENDER_TIMEOUT_SECONDS = 60


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@dataclass
class PageCapture:
    text: str
    screenshot: Path
    missing: list[str]


@contextlib.contextmanager
def headless_page(page_class: type[_Page] | None = None, window: str = "1600,1000") -> Iterator[_Page]:
    """A page of a headless Chromium started for the caller (a profile of its own), stopped after."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found: install Debian's `chromium` package (scripts/test.sh does as root)")
    with tempfile.TemporaryDirectory(prefix="salesflow-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                browser,
                "--headless=new",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={window}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), process)
            with (page_class or _Page)(_page_websocket(port)) as page:
                yield page
        finally:
            _stop(process)


def capture(
    url: str, expected_texts: Iterable[str], screenshot: Path, timeout: float = RENDER_TIMEOUT_SECONDS
) -> PageCapture:
    """Open `url` in headless Chromium, wait until the page's text holds every `expected_texts`
    (or `timeout`), save a PNG screenshot to `screenshot` and return the text seen."""
    expected = list(expected_texts)
    with headless_page() as page:
        page.call("Page.enable")
        page.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = page.evaluate("document.body ? document.body.innerText : ''") or ""
            if all(name in text for name in expected):
                break
            time.sleep(0.5)
        time.sleep(1)  # let the graph finish its zoom-to-fit before the picture
        text = page.evaluate("document.body ? document.body.innerText : ''") or text
        image = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(image))
    return PageCapture(text=text, screenshot=screenshot, missing=[name for name in expected if name not in text])


def _stop(process: subprocess.Popen) -> None:
    """Chromium and its helper processes (a process group of their own): TERM, then KILL what remains."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float = 30) -> int:
    """Chromium writes the port it picked (for --remote-debugging-port=0) into the profile."""
    active_port = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode} before opening its DevTools port")
        if active_port.exists():
            first_line = active_port.read_text().splitlines()[:1]
            if first_line and first_line[0].isdigit():
                return int(first_line[0])
        time.sleep(0.1)
    raise RuntimeError(f"Chromium did not open a DevTools port within {timeout:.0f}s")


def _page_websocket(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        targets = json.load(answer)
    return next(target["webSocketDebuggerUrl"] for target in targets if target.get("type") == "page")


class _Page:
    """A DevTools session on one page: `call` sends a command and returns its result."""

    def __init__(self, websocket_url: str) -> None:
        self._socket = connect(websocket_url, max_size=None, open_timeout=10)
        self._ids = itertools.count(1)

    def __enter__(self) -> _Page:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._socket.close()

    def call(self, method: str, **params: object) -> dict:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") != message_id:
                continue  # an event, or the answer to an earlier call
            if "error" in message:
                raise RuntimeError(f"DevTools {method} failed: {message['error']}")
            return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")
