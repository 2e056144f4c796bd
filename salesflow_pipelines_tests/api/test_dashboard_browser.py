"""The dashboard in headless Chromium: the owner signs in with the backend account, the KPI cards
show the warehouse's figures, the chart has the revenue days and the forecast band, and the page fits
a phone's width. Screenshots are kept under the test's tmp dir (their paths are printed)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines_tests.api.conftest import ADMIN_LOGIN
from salesflow_pipelines_tests.api.filled import HORIZON_DAYS, LAST_DAY
from salesflow_pipelines_tests.e2e.browser import _Page, headless_page

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


class RecordingPage(_Page):
    """A DevTools page session that keeps the events it receives (console messages, exceptions)."""

    def __init__(self, websocket_url: str) -> None:
        super().__init__(websocket_url)
        self.events: list[dict] = []

    def call(self, method: str, **params: object) -> dict:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if "method" in message:
                self.events.append(message)
            if message.get("id") != message_id:
                continue
            if "error" in message:
                raise RuntimeError(f"DevTools {method} failed: {message['error']}")
            return message.get("result", {})

    def wait_for(self, expression: str, timeout: float = 30) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(
            f"the page never satisfied {expression}; it shows:\n{self.evaluate('document.body.innerText')}"
        )

    def screenshot(self, path: Path) -> Path:
        import base64

        image = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(image))
        return path

    def problems(self) -> list[str]:
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                found.append(event["params"]["exceptionDetails"].get("text", "exception"))
            elif event["method"] == "Log.entryAdded" and event["params"]["entry"]["level"] == "error":
                found.append(event["params"]["entry"]["text"])
            elif event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                found.append(str(event["params"]["args"]))
        return found


@contextmanager
def chromium() -> Iterator[RecordingPage]:
    with headless_page(RecordingPage, window="1400,1000") as page:
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        yield page


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def test_the_owner_signs_in_and_sees_the_warehouse_figures(running_api, tmp_path):
    warehouse = running_api.warehouse
    month = warehouse.frame(
        "SELECT SUM(revenue) AS revenue, SUM(orders) AS orders, SUM(units) AS units FROM analytics.daily_sales_kpis "
        "WHERE sale_date BETWEEN %s AND %s",
        (LAST_DAY.replace(day=1), LAST_DAY),
    ).iloc[0]
    revenue = float(round_money(float(month["revenue"])))
    expected = {
        "total_revenue": dollars(revenue),
        "total_transactions": f"{int(month['orders']):,}",
        "total_quantity": f"{int(month['units']):,}",
        "average_ticket": dollars(float(round_money(revenue / int(month["orders"])))),
    }
    with chromium() as page:
        page.call("Page.navigate", url=f"{running_api.url}/")
        page.wait_for("!document.getElementById('login-view').hidden")
        phone, password = ADMIN_LOGIN
        page.evaluate(
            f"document.getElementById('login-phone').value = {json.dumps(phone)};"
            f"document.getElementById('login-password').value = {json.dumps(password)};"
            "document.getElementById('login-form').requestSubmit(); true"
        )
        page.wait_for("document.querySelectorAll('#kpis .kpi').length === 4")
        page.wait_for(
            "!!(document.querySelectorAll('#reports li a').length && window.Chart && Chart.getChart('revenue-chart'))"
        )
        cards = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#kpis .kpi')]"
            ".map((card) => [card.dataset.kpi, card.querySelector('.value').textContent]))"
        )
        assert cards == expected
        text = page.evaluate("document.body.innerText")
        assert "Month to date (1 Oct 2026 – 18 Oct 2026)" in text and "admin (admin)" in text
        assert "Import sales or stock" in text  # the admin's upload box
        chart = page.evaluate(
            "(() => { const chart = Chart.getChart('revenue-chart');"
            " return chart.data.datasets.map((set) => set.data.filter((value) => value !== null).length); })()"
        )
        assert chart == [LAST_DAY.day, HORIZON_DAYS, HORIZON_DAYS, HORIZON_DAYS]  # revenue, forecast, band low, high
        assert page.evaluate("document.querySelectorAll('#anomalies li .badge').length") > 0
        assert page.evaluate("document.querySelectorAll('#stock-alerts tbody tr').length") > 0
        desktop = page.screenshot(tmp_path / "dashboard-desktop.png")

        page.call("Emulation.setDeviceMetricsOverride", **PHONE)
        page.call("Page.reload")
        page.wait_for("!!(document.querySelectorAll('#kpis .kpi').length === 4 && Chart.getChart('revenue-chart'))")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
        phone_shot = page.screenshot(tmp_path / "dashboard-phone.png")
        assert page.problems() == []
    print(f"\ndashboard screenshots: {desktop} {phone_shot}")
    assert desktop.stat().st_size > 20_000 and phone_shot.stat().st_size > 20_000
