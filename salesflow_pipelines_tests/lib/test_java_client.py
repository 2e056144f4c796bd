"""The Java API client against the stand-in server over real loopback sockets (no HTTP mocks)."""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.backend.java_client import (
    BulkOutcomeUnknown,
    JavaApiAuthError,
    JavaApiClient,
    JavaApiError,
    JavaApiUnavailable,
)

DATA = DemoData(orders_per_day=20)
ADMIN = ("0000000000", "admin123")
USER = ("1111111111", "user123")
TODAY = date.today()
WINDOW = (TODAY - timedelta(days=4), TODAY - timedelta(days=1))
# Stock follows a restock cycle: import into the two best-stocked products of the day.
_STOCKED = DATA.products(TODAY).sort_values("stock_quantity", ascending=False).head(2)
SKU_A, SKU_B = _STOCKED["sku"].tolist()
PRODUCT_ID_B = int(_STOCKED["product_id"].iloc[1])
ONE_SALE = [{"items": [{"sku": SKU_A, "quantity": 1}]}]


class RecordingServer(StandinServer):
    """The stand-in, remembering every access token it issued (to hunt for leaks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issued_tokens: list[str] = []

    def issue_token(self, phone: str, ttl_seconds: float | None = None) -> str:
        token = super().issue_token(phone, ttl_seconds)
        self.issued_tokens.append(token)
        return token


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer(DATA) as standin:
        yield standin


@pytest.fixture
def plain_server() -> Iterator[StandinServer]:
    """A backend with contract sections 1-5 only: no /sales/range, no optional fields."""
    with StandinServer(DATA, extensions=False) as standin:
        yield standin


def client_for(server: StandinServer, account: tuple[str, str] = ADMIN, **options: Any) -> JavaApiClient:
    settings = {"backoff_seconds": 0.01, "timeout_seconds": 5.0, "page_size": 25} | options
    return JavaApiClient(server.base_url, phone=account[0], password=account[1], **settings)


def expire_access_tokens(server: StandinServer, client: JavaApiClient) -> None:
    """Log the client in with a token that expires at once; later tokens live an hour."""
    server.token_ttl_seconds = 0.2
    client.fetch_products()
    server.token_ttl_seconds = 3600
    time.sleep(0.3)


def contract_view(sales: list[dict[str, Any]]) -> Counter:
    """The fields every backend sends, as a multiset (duplicate deliveries count twice)."""
    return Counter(
        (
            sale["id"],
            sale["saleDate"],
            tuple((i["productId"], i["sku"], i["quantity"], i["unitPrice"]) for i in sale["items"]),
        )
        for sale in sales
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- reading sales -------------------------------------------------------------------------


def test_range_pages_are_read_completely_and_match_the_history_fallback(
    server: RecordingServer, plain_server: StandinServer
) -> None:
    with client_for(server) as client:
        ranged = client.fetch_sales(*WINDOW)
    with client_for(plain_server) as client:
        from_history = client.fetch_sales(*WINDOW)
        again = client.fetch_sales(*WINDOW)

    expected_pages = -(-len(ranged) // 25)
    assert expected_pages > 3
    assert server.request_counts["GET /sales/range"] == expected_pages
    assert [sale["id"] for sale in ranged] == sorted(sale["id"] for sale in ranged)
    assert {sale["saleDate"][:10] for sale in ranged} == {(WINDOW[0] + timedelta(days=n)).isoformat() for n in range(4)}
    assert contract_view(ranged) == contract_view(from_history) == contract_view(again)
    assert "region" in ranged[0] and "region" not in from_history[0]
    # The 404 is remembered: the second read goes straight to /sales/history.
    assert plain_server.request_counts["GET /sales/range"] == 1
    assert plain_server.request_counts["GET /sales/history"] == 2


def test_history_fallback_asks_for_enough_days_and_keeps_only_the_window(
    plain_server: StandinServer,
) -> None:
    day = TODAY - timedelta(days=2)
    with client_for(plain_server) as client:
        sales = client.fetch_sales(day, day)
    everything = httpx.get(
        f"{plain_server.base_url}/sales/history",
        params={"days": 3},
        headers={"Authorization": f"Bearer {plain_server.issue_token(ADMIN[0])}"},
    ).json()
    assert sales and {sale["saleDate"][:10] for sale in sales} == {day.isoformat()}
    assert len(sales) == sum(sale["saleDate"][:10] == day.isoformat() for sale in everything)


def test_today_products_and_inventory(server: RecordingServer) -> None:
    with client_for(server) as client:
        today = client.fetch_sales_today()
        products = client.fetch_products()
        inventory = client.fetch_inventory()
    assert all(sale["saleDate"].startswith(TODAY.isoformat()) for sale in today)
    assert len(products) == DATA.product_count
    assert len(inventory) == DATA.product_count - 1  # the newest product is missing
    assert {"id", "sku", "price", "stockQuantity", "lowStockThreshold"} <= products[0].keys()


def test_range_page_shape_follows_spring(server: RecordingServer) -> None:
    token = server.issue_token(ADMIN[0])
    answer = httpx.get(
        f"{server.base_url}/sales/range",
        params={"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat(), "page": 1, "size": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert answer["number"] == 1 and answer["size"] == 10 and len(answer["content"]) == 10
    assert answer["totalPages"] == -(-answer["totalElements"] // 10)
    assert answer["first"] is False and answer["last"] is False


# -- transient failures --------------------------------------------------------------------


def test_a_503_burst_shorter_than_max_retries_is_survived(server: RecordingServer) -> None:
    with client_for(server, max_retries=4) as client:
        client.fetch_products()
        server.fail_next(3)
        assert len(client.fetch_products()) == DATA.product_count
        assert client.stats["retries"] == 3
    assert server.request_counts["GET /products"] == 1 + 4


def test_a_503_burst_longer_than_max_retries_raises_unavailable(server: RecordingServer) -> None:
    with client_for(server, max_retries=2) as client:
        client.fetch_products()
        server.fail_next(10)
        with pytest.raises(JavaApiUnavailable, match="GET /products") as raised:
            client.fetch_products()
        assert client.stats["retries"] == 2
    assert raised.value.maybe_applied is False
    assert server.request_counts["GET /products"] == 1 + 3


def test_a_5xx_on_range_is_retried_not_taken_for_a_missing_endpoint(
    server: RecordingServer,
) -> None:
    with JavaApiClient(server.base_url, token=server.issue_token(ADMIN[0])) as client:
        whole = client.fetch_sales(*WINDOW)
    with JavaApiClient(
        server.base_url, token=server.issue_token(ADMIN[0]), backoff_seconds=0.01, page_size=25
    ) as client:
        server.fail_next(2, status=500)
        assert client.fetch_sales(*WINDOW) == whole
        assert client.stats["retries"] == 2
    assert server.request_counts["GET /sales/history"] == 0


def test_slow_answers_time_out_are_retried_then_unavailable(server: RecordingServer) -> None:
    with client_for(server, timeout_seconds=0.1, max_retries=2) as client:
        client.fetch_products()
        server.delay_seconds = 0.4
        with pytest.raises(JavaApiUnavailable, match="Timeout"):
            client.fetch_products()
        assert client.stats["retries"] == 2
        server.delay_seconds = 0.0
        assert len(client.fetch_products()) == DATA.product_count
    assert server.request_counts["GET /products"] == 1 + 3 + 1


def test_a_backend_that_is_down_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1"
    with JavaApiClient(url, token="t", max_retries=1, backoff_seconds=0.01) as client:
        with pytest.raises(JavaApiUnavailable, match="ConnectError"):
            client.fetch_products()
        with pytest.raises(JavaApiUnavailable, match="not sent") as raised:
            client.bulk_create_sales(ONE_SALE)
        assert client.stats == {"requests": 3, "retries": 1, "token_refreshes": 0, "logins": 0}
    assert not isinstance(raised.value, BulkOutcomeUnknown)


# -- identity ------------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_and_the_refresh_token_rotates(
    server: RecordingServer,
) -> None:
    with client_for(server) as client:
        expire_access_tokens(server, client)
        first_refresh_tokens = server.refresh_tokens()
        assert len(client.fetch_products()) == DATA.product_count
        assert client.stats["token_refreshes"] == 1 and client.stats["logins"] == 1
    assert server.request_counts["POST /auth/refresh"] == 1
    assert len(first_refresh_tokens) == 1
    assert server.refresh_tokens().isdisjoint(first_refresh_tokens)
    reused = httpx.post(f"{server.base_url}/auth/refresh", json={"refreshToken": first_refresh_tokens.pop()})
    assert reused.status_code == 401


def test_a_refused_refresh_falls_back_to_a_new_login(server: RecordingServer) -> None:
    server.refresh_ttl_seconds = 0.2
    with client_for(server) as client:
        expire_access_tokens(server, client)
        assert len(client.fetch_products()) == DATA.product_count
        assert client.stats["token_refreshes"] == 0 and client.stats["logins"] == 2
    assert server.request_counts["POST /auth/refresh"] == 1
    assert server.request_counts["POST /auth/login"] == 2


def test_concurrent_calls_renew_an_expired_token_once(server: RecordingServer) -> None:
    with client_for(server) as client:
        expire_access_tokens(server, client)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.fetch_inventory(), range(8)))
        assert all(len(answer) == DATA.product_count - 1 for answer in answers)
        assert client.stats["token_refreshes"] == 1
    assert server.request_counts["POST /auth/refresh"] == 1


def test_wrong_credentials_raise_an_auth_error(server: RecordingServer) -> None:
    with (
        client_for(server, account=(ADMIN[0], "wrong-password")) as client,
        pytest.raises(JavaApiAuthError, match="JAVA_API_PASSWORD") as raised,
    ):
        client.fetch_products()
    assert raised.value.code == "INVALID_CREDENTIALS" and raised.value.status == 401
    assert "wrong-password" not in str(raised.value)


def test_fixed_token_mode_never_logs_in(server: RecordingServer) -> None:
    token = server.issue_token(ADMIN[0])
    with JavaApiClient(server.base_url, token=token) as client:
        assert len(client.fetch_products()) == DATA.product_count
        assert "Bulk sales imported" in client.bulk_create_sales(ONE_SALE)
        assert client.stats["logins"] == 0
    assert server.request_counts["POST /auth/login"] == 0


def test_an_expired_fixed_token_says_what_to_do(server: RecordingServer) -> None:
    token = server.issue_token(ADMIN[0], ttl_seconds=0.1)
    time.sleep(0.2)
    with (
        JavaApiClient(server.base_url, token=token) as client,
        pytest.raises(JavaApiAuthError, match="SYSTEM_JWT_TOKEN") as raised,
    ):
        client.fetch_products()
    assert raised.value.code == "TOKEN_EXPIRED"
    assert token not in str(raised.value)


def test_a_token_from_another_secret_is_rejected(server: RecordingServer) -> None:
    forged = StandinServer(DATA, jwt_secret="a-secret-that-is-not-the-backends-secret").issue_token(ADMIN[0])
    with (
        JavaApiClient(server.base_url, token=forged) as client,
        pytest.raises(JavaApiAuthError) as raised,
    ):
        client.fetch_products()
    assert raised.value.code == "INVALID_SIGNATURE"


def test_no_token_or_password_reaches_logs_or_errors(server: RecordingServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    refresh_tokens: set[str] = set()
    errors: list[str] = []
    with client_for(server) as client:
        expire_access_tokens(server, client)
        refresh_tokens |= server.refresh_tokens()
        client.fetch_products()  # refresh
        refresh_tokens |= server.refresh_tokens()
        server.fail_next(2)
        client.fetch_inventory()  # retries, logged
        server.malformed_next(1)
        with pytest.raises(JavaApiError) as raised:
            client.fetch_products()
        errors.append(str(raised.value))
    with client_for(server, account=USER) as client:
        server.malformed_next(1)
        with pytest.raises(JavaApiError) as raised:
            client.fetch_products()  # the login answer is broken
        errors.append(str(raised.value))
        with pytest.raises(JavaApiError) as raised:
            client.bulk_create_sales(ONE_SALE)
        errors.append(str(raised.value))

    assert server.issued_tokens and refresh_tokens and caplog.records
    text = "\n".join([caplog.text, *(record.getMessage() for record in caplog.records), *errors])
    for secret in [*server.issued_tokens, *refresh_tokens, ADMIN[1], USER[1]]:
        assert secret not in text
    assert "eyJ" not in text


# -- errors the backend answers ------------------------------------------------------------


def test_bulk_with_a_user_account_is_a_403_naming_endpoint_and_role(
    server: RecordingServer,
) -> None:
    with (
        client_for(server, account=USER) as client,
        pytest.raises(JavaApiError) as raised,
    ):
        client.bulk_create_sales(ONE_SALE)
    error = raised.value
    assert not isinstance(error, JavaApiAuthError)
    assert (error.endpoint, error.status, error.code) == ("POST /sales/bulk", 403, "ACCESS_DENIED")
    assert "POST /sales/bulk" in str(error) and "403" in str(error)
    assert "ACCESS_DENIED" in str(error) and "ADMIN role" in str(error)
    assert server.received_bulk == []


def test_updating_an_unknown_sku_is_a_404(server: RecordingServer) -> None:
    with client_for(server) as client, pytest.raises(JavaApiError) as raised:
        client.update_product("SKU-9999", {"sku": "SKU-9999", "stockQuantity": 5})
    assert (raised.value.status, raised.value.code) == (404, "NOT_FOUND")
    assert "PUT /products/by-sku/SKU-9999" in str(raised.value)


def test_update_product_sets_absolute_stock(server: RecordingServer) -> None:
    with client_for(server) as client:
        product = next(p for p in client.fetch_products() if p["sku"] == "SKU-0003")
        updated = client.update_product("SKU-0003", product | {"stockQuantity": 77})
        assert updated["stockQuantity"] == 77 and updated["id"] == product["id"]
        again = client.update_product("SKU-0003", product | {"stockQuantity": 77})
        assert again == updated
        inventory = {item["sku"].strip().upper(): item for item in client.fetch_inventory()}
    assert server.product("SKU-0003")["stockQuantity"] == 77
    assert inventory["SKU-0003"]["quantity"] == 77


def test_malformed_json_is_a_clear_error_and_not_retried(server: RecordingServer) -> None:
    with client_for(server) as client:
        client.fetch_products()
        server.malformed_next(1)
        with pytest.raises(JavaApiError, match="not valid JSON") as raised:
            client.fetch_products()
    assert raised.value.status == 200 and raised.value.endpoint == "GET /products"
    assert '{"content"' in str(raised.value)
    assert server.request_counts["GET /products"] == 2


def test_validation_error_shows_the_details(server: RecordingServer) -> None:
    with client_for(server) as client, pytest.raises(JavaApiError) as raised:
        client.bulk_create_sales([{"items": [{"sku": SKU_A, "quantity": 0}]}])
    assert raised.value.code == "VALIDATION_ERROR"
    assert "[0].items[0].quantity" in str(raised.value)


# -- the non-idempotent bulk import --------------------------------------------------------


def test_bulk_import_creates_todays_sales_and_takes_stock(server: RecordingServer) -> None:
    before = server.product(SKU_A)["stockQuantity"]
    request = [
        {"items": [{"sku": SKU_A, "quantity": 2}, {"productId": PRODUCT_ID_B, "quantity": 1}]},
        {"items": [{"sku": SKU_A, "quantity": 1}]},
    ]
    with client_for(server) as client:
        known_today = {sale["id"] for sale in client.fetch_sales_today()}
        assert client.bulk_create_sales(request) == "Bulk sales imported successfully"
        created = [sale for sale in client.fetch_sales_today() if sale["id"] not in known_today]
    assert server.product(SKU_A)["stockQuantity"] == before - 3
    assert [[(i["sku"], i["quantity"]) for i in sale["items"]] for sale in created] == [
        [(SKU_A, 2), (SKU_B, 1)],
        [(SKU_A, 1)],
    ]
    assert server.received_bulk == [request]


@pytest.mark.parametrize(
    ("item", "status", "code"),
    [
        ({"sku": SKU_A, "quantity": 100_000}, 400, "INSUFFICIENT_STOCK"),
        ({"sku": "SKU-9999", "quantity": 1}, 404, "NOT_FOUND"),
    ],
)
def test_a_rejected_bulk_import_changes_nothing(
    server: RecordingServer, item: dict[str, Any], status: int, code: str
) -> None:
    before = server.product(SKU_B)["stockQuantity"]
    request = [{"items": [{"sku": SKU_B, "quantity": 1}]}, {"items": [item]}]
    with client_for(server) as client, pytest.raises(JavaApiError) as raised:
        client.bulk_create_sales(request)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert server.product(SKU_B)["stockQuantity"] == before
    assert server.created_sales() == []


def test_bulk_is_not_retried_when_its_answer_never_arrives(server: RecordingServer) -> None:
    server.drop_next_bulk_after_apply()
    with client_for(server) as client, pytest.raises(BulkOutcomeUnknown) as raised:
        client.bulk_create_sales(ONE_SALE)
    assert raised.value.maybe_applied is True
    assert "GET /sales/today" in str(raised.value)
    assert server.request_counts["POST /sales/bulk"] == 1
    assert len(server.created_sales()) == 1  # it was applied: a retry would have doubled it


def test_bulk_is_not_retried_on_a_5xx(server: RecordingServer) -> None:
    with client_for(server) as client:
        client.fetch_products()
        server.fail_next(1, status=502)
        with pytest.raises(BulkOutcomeUnknown, match="502"):
            client.bulk_create_sales(ONE_SALE)
        assert client.stats["retries"] == 0
    assert server.request_counts["POST /sales/bulk"] == 1


def test_bulk_rejected_for_an_expired_token_is_sent_again_after_refresh(
    server: RecordingServer,
) -> None:
    with client_for(server) as client:
        expire_access_tokens(server, client)
        client.bulk_create_sales(ONE_SALE)
        assert client.stats["token_refreshes"] == 1
    assert server.request_counts["POST /sales/bulk"] == 2
    assert len(server.received_bulk) == 1 and len(server.created_sales()) == 1
