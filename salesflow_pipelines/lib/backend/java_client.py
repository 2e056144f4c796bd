"""HTTP client for the SalesFlow Lite Java backend (see the REST contract in docs/java-contract.md).

Plain Python over `httpx`, no Dagster: the resources wrap it. It handles the two system
identities (a fixed `SYSTEM_JWT_TOKEN`, or a service account that logs in and refreshes a
rotating refresh token), retries transient failures of safe calls with bounded exponential
backoff, never re-sends the non-idempotent bulk import, and reads `/sales/range` pages
concurrently, falling back to `/sales/history` on a backend without that extension.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from salesflow_pipelines.lib.gc_paused import gc_paused

DEFAULT_BASE_URL = "http://localhost:8080/api/v1"
MAX_BACKOFF_SECONDS = 8.0
BODY_SNIPPET_CHARS = 200
# A JWT is three base64url parts; whatever a backend echoes, none of it reaches a log or an error.
JWT_PATTERN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
# Transport errors that happen before the request leaves the machine: nothing was sent.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class JavaApiError(Exception):
    """A call to the Java backend failed for good.

    `endpoint` is "METHOD /path", `status` the HTTP status (None when no answer arrived),
    `code`/`message` the backend's `ApiError` fields when it sent one.
    """

    def __init__(
        self,
        text: str,
        *,
        endpoint: str,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(text)
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message


class JavaApiAuthError(JavaApiError):
    """A 401 that neither a refresh nor a new login could fix (e.g. INVALID_CREDENTIALS)."""


class JavaApiUnavailable(JavaApiError):
    """The backend stayed unreachable or kept failing (5xx, timeouts) after every retry.

    `maybe_applied` is True when a non-idempotent request may have been processed anyway.
    """

    maybe_applied: bool = False


class BulkOutcomeUnknown(JavaApiUnavailable):
    """`POST /sales/bulk` was sent but its answer never arrived: it may or may not be applied.

    Never re-send blindly; reconcile against `GET /sales/today` first.
    """

    maybe_applied = True


class JavaApiClient:
    """Typed access to the Java backend's REST API; thread-safe, usable as a context manager.

    Identity: `token` (a fixed JWT sent as Bearer) or `phone` + `password` (a service account
    that logs in on first need, refreshes on `401 TOKEN_EXPIRED` and logs in again when the
    refresh is refused). With both, the fixed token is used until it is rejected.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        phone: str | None = None,
        password: str | None = None,
        *,
        timeout_seconds: float = 30,
        max_retries: int = 4,
        backoff_seconds: float = 0.5,
        page_size: int = 500,
        max_concurrency: int = 4,
        logger: logging.Logger | None = None,
    ) -> None:
        if (phone is None) != (password is None):
            raise ValueError("a service account needs both phone and password")
        if page_size < 1 or max_concurrency < 1 or max_retries < 0:
            raise ValueError("page_size and max_concurrency must be >= 1, max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.log = logger or logging.getLogger(__name__)
        self._phone = phone
        self._password = password
        self._access_token = token
        self._refresh_token: str | None = None
        self._auth_lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._counts = {"requests": 0, "retries": 0, "token_refreshes": 0, "logins": 0}
        self._range_supported: bool | None = None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_seconds,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            headers={"Accept": "application/json"},
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> JavaApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """A snapshot of HTTP requests sent, retries, token refreshes and logins so far."""
        with self._stats_lock:
            return dict(self._counts)

    # -- reads -----------------------------------------------------------------------------

    def fetch_sales(self, start: date, end: date) -> list[dict[str, Any]]:
        """Every `SaleResponse` whose `saleDate` falls in [start, end], in one pass.

        Uses `GET /sales/range` (pages read concurrently, returned in page order) and, once a
        backend has answered 404 to it, `GET /sales/history` filtered to the window.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        with gc_paused():  # the answers are acyclic: collections while decoding them free nothing
            return self._fetch_sales(start, end)

    def _fetch_sales(self, start: date, end: date) -> list[dict[str, Any]]:
        if self._range_supported is not False:
            try:
                first = self._range_page(start, end, 0)
            except JavaApiError as error:
                if error.status != 404:
                    raise
                self._range_supported = False
                self.log.info("The backend has no GET /sales/range; reading /sales/history.")
            else:
                self._range_supported = True
                return self._remaining_range_pages(start, end, first)
        return self._sales_from_history(start, end)

    def fetch_sales_today(self) -> list[dict[str, Any]]:
        """`GET /sales/today`: the sales the backend dates today."""
        return self._json_list("GET", "/sales/today")

    def fetch_products(self) -> list[dict[str, Any]]:
        """`GET /products`: every `ProductDto`."""
        return self._json_list("GET", "/products")

    def fetch_inventory(self) -> list[dict[str, Any]]:
        """`GET /inventory`: every `InventoryResponse` (category and cost by SKU)."""
        return self._json_list("GET", "/inventory")

    # -- writes ----------------------------------------------------------------------------

    def bulk_create_sales(self, sales: list[dict[str, Any]]) -> str:
        """`POST /sales/bulk` (ADMIN): import `CreateSaleRequest`s in one transaction.

        Answers the backend's confirmation text. Never retried: a lost answer raises
        `BulkOutcomeUnknown`, a rejection (`INSUFFICIENT_STOCK`, ...) `JavaApiError`.
        """
        response = self._request("POST", "/sales/bulk", json_body=sales, idempotent=False)
        return response.text

    def update_product(self, sku: str, product: dict[str, Any]) -> dict[str, Any]:
        """`PUT /products/by-sku/{sku}` (ADMIN) with a full `ProductDto`; answers the update.

        Retried on transient failures: absolute stock values make it safe to repeat.
        """
        if not sku:
            raise ValueError("update_product needs a SKU")
        path = f"/products/by-sku/{quote(sku, safe='')}"
        answer = self._json("PUT", path, json_body=product)
        if not isinstance(answer, dict):
            raise self._shape_error("PUT", path, "a ProductDto object", answer)
        return answer

    # -- sales reading ---------------------------------------------------------------------

    def _range_page(self, start: date, end: date, page: int) -> dict[str, Any]:
        params = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "page": page,
            "size": self.page_size,
        }
        answer = self._json("GET", "/sales/range", params=params)
        if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
            raise self._shape_error("GET", "/sales/range", "a page with a content list", answer)
        return answer

    def _remaining_range_pages(self, start: date, end: date, first: dict[str, Any]) -> list[dict[str, Any]]:
        total_pages = int(first.get("totalPages") or 1)
        sales = list(first["content"])
        if total_pages > 1:
            workers = min(self.max_concurrency, total_pages - 1)
            with ThreadPoolExecutor(workers, thread_name_prefix="sales-range") as pool:
                futures = [pool.submit(self._range_page, start, end, page) for page in range(1, total_pages)]
                try:
                    for future in futures:
                        sales.extend(future.result()["content"])
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        expected = first.get("totalElements")
        if isinstance(expected, int) and expected != len(sales):
            self.log.warning(
                "GET /sales/range announced %d sales for %s..%s but %d arrived; "
                "the data changed while the pages were read.",
                expected,
                start,
                end,
                len(sales),
            )
        self.log.info(
            "Read %d sales for %s..%s from /sales/range in %d page(s).",
            len(sales),
            start,
            end,
            total_pages,
        )
        return sales

    def _sales_from_history(self, start: date, end: date) -> list[dict[str, Any]]:
        # `days` reaches back to `start` from the client's today, plus one day of margin for a
        # backend whose clock or time zone is a little behind.
        days = max((date.today() - start).days + 1, 1)
        sales = self._json_list("GET", "/sales/history", params={"days": days})
        first, last = start.isoformat(), end.isoformat()
        in_window = [sale for sale in sales if first <= str(sale.get("saleDate"))[:10] <= last]
        self.log.info(
            "Read %d sales for %s..%s from /sales/history?days=%d (%d in the answer).",
            len(in_window),
            start,
            end,
            days,
            len(sales),
        )
        return in_window

    # -- HTTP core -------------------------------------------------------------------------

    def _json_list(self, method: str, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        answer = self._json(method, path, params=params)
        if not isinstance(answer, list):
            raise self._shape_error(method, path, "a JSON array", answer)
        return answer

    def _json(self, method: str, path: str, **request_options: Any) -> Any:
        """The decoded JSON answer of `_request(method, path, **request_options)`."""
        response = self._request(method, path, **request_options)
        try:
            return json.loads(response.content)
        except ValueError:
            # An auth answer may hold a token even when broken: never show its body.
            snippet = "" if path.startswith("/auth/") else f": {self._snippet(response.text)!r}"
            raise JavaApiError(
                f"{method} {path} answered {response.status_code} but the body was not valid "
                f"JSON{snippet}. Check that JAVA_API_URL points at the API root (.../api/v1) "
                "and not at a proxy or login page.",
                endpoint=f"{method} {path}",
                status=response.status_code,
            ) from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        authenticated: bool = True,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one call; renew the identity once on 401; raise `JavaApiError` unless 2xx."""
        endpoint = f"{method} {path}"
        renewed = False
        while True:
            token = self._current_token() if authenticated else None
            headers = {"Authorization": f"Bearer {token}"} if token else None
            response = self._send(method, path, params, json_body, headers, idempotent)
            if response.status_code == 401 and authenticated and not renewed and self._phone is not None:
                self._renew(token, self._error_fields(response)[0])
                renewed = True
                continue
            if response.is_success:
                return response
            raise self._status_error(endpoint, response)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json_body: Any,
        headers: dict[str, str] | None,
        idempotent: bool,
    ) -> httpx.Response:
        """One HTTP exchange, retried with backoff on 5xx and transport errors if safe."""
        endpoint = f"{method} {path}"
        for attempt in range(self.max_retries + 1):
            self._count("requests")
            try:
                response = self._http.request(method, path, params=params, json=json_body, headers=headers)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {self._redact(str(error)) or 'no detail'}"
                if not idempotent:
                    raise self._unsent_or_unknown(endpoint, error, failure) from None
            else:
                if response.status_code < 500:
                    return response
                failure = f"HTTP {response.status_code}"
                if not idempotent:
                    code, message, _ = self._error_fields(response)
                    raise BulkOutcomeUnknown(
                        f"{endpoint} answered {response.status_code} {code or ''}; the request "
                        "may or may not have been applied. Do not re-send it blindly: reconcile "
                        "against GET /sales/today first.",
                        endpoint=endpoint,
                        status=response.status_code,
                        code=code,
                        message=message,
                    )
            if attempt == self.max_retries:
                break
            delay = min(self.backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
            self._count("retries")
            self.log.warning(
                "%s failed (%s); retry %d/%d in %.2fs.",
                endpoint,
                failure,
                attempt + 1,
                self.max_retries,
                delay,
            )
            time.sleep(delay)
        raise JavaApiUnavailable(
            f"{endpoint} still failing after {self.max_retries + 1} attempts ({failure}). "
            f"Check that the Java backend at {self.base_url} is up and healthy.",
            endpoint=endpoint,
        )

    def _unsent_or_unknown(self, endpoint: str, error: httpx.TransportError, failure: str) -> JavaApiUnavailable:
        if isinstance(error, NOT_SENT_ERRORS):
            return JavaApiUnavailable(
                f"{endpoint} could not reach the backend at {self.base_url} ({failure}); "
                "the request was not sent, so it is safe to send again later.",
                endpoint=endpoint,
            )
        return BulkOutcomeUnknown(
            f"{endpoint} got no answer ({failure}); the request may or may not have been "
            "applied. Do not re-send it blindly: reconcile against GET /sales/today first.",
            endpoint=endpoint,
        )

    # -- identity --------------------------------------------------------------------------

    def _current_token(self) -> str | None:
        if self._access_token is None and self._phone is not None:
            with self._auth_lock:
                if self._access_token is None:
                    self._login()
        return self._access_token

    def _renew(self, rejected_token: str | None, code: str | None) -> None:
        with self._auth_lock:
            if self._access_token != rejected_token:
                return  # another thread renewed it while this call was in flight
            if code == "TOKEN_EXPIRED" and self._refresh_token is not None:
                try:
                    self._authenticate("/auth/refresh", {"refreshToken": self._refresh_token})
                except JavaApiAuthError:
                    self.log.info("The refresh token was refused; logging in again.")
                else:
                    self._count("token_refreshes")
                    self.log.info("Access token refreshed.")
                    return
            self._login()

    def _login(self) -> None:
        self._authenticate("/auth/login", {"phoneNumber": self._phone, "password": self._password})
        self._count("logins")
        self.log.info("Logged in to the Java backend as the service account.")

    def _authenticate(self, path: str, body: dict[str, Any]) -> None:
        answer = self._json("POST", path, json_body=body, authenticated=False)
        if not isinstance(answer, dict) or not answer.get("accessToken"):
            raise JavaApiAuthError(f"POST {path} answered no accessToken.", endpoint=f"POST {path}", status=200)
        self._access_token = answer["accessToken"]
        self._refresh_token = answer.get("refreshToken")

    # -- errors ----------------------------------------------------------------------------

    @staticmethod
    def _error_fields(response: httpx.Response) -> tuple[str | None, str | None, Any]:
        try:
            body = response.json()
        except ValueError:
            return None, None, None
        if not isinstance(body, dict):
            return None, None, None
        return body.get("code"), body.get("message"), body.get("details")

    def _status_error(self, endpoint: str, response: httpx.Response) -> JavaApiError:
        status = response.status_code
        code, message, details = self._error_fields(response)
        message = self._redact(str(message)) if message is not None else None
        text = f"{endpoint} answered {status}"
        if code or message:
            text += f" {code or ''}: {message or ''}".rstrip()
        if code == "VALIDATION_ERROR" and details:
            text += f" (details: {self._redact(json.dumps(details))})"
        text += f". {self._hint(status, code)}"
        error_class = JavaApiAuthError if status == 401 else JavaApiError
        return error_class(text, endpoint=endpoint, status=status, code=code, message=message)

    def _hint(self, status: int, code: str | None) -> str:
        if status == 401:
            if code == "INVALID_CREDENTIALS":
                return "Check JAVA_API_PHONE and JAVA_API_PASSWORD."
            if code == "TOKEN_EXPIRED" and self._phone is None:
                return (
                    "The fixed SYSTEM_JWT_TOKEN has expired: issue a new one, or configure a "
                    "service account (JAVA_API_PHONE, JAVA_API_PASSWORD) that can refresh."
                )
            return (
                "The backend refused the identity: check SYSTEM_JWT_TOKEN or the service "
                "account, and that the backend's JWT secret has not changed."
            )
        if status == 403:
            return "This call needs a token with the ADMIN role."
        if status == 404:
            return "Check that the product or record exists and that JAVA_API_URL points at the API root (.../api/v1)."
        if code == "INSUFFICIENT_STOCK":
            return "Nothing was applied (one transaction); restock or fix the quantities."
        if code == "VALIDATION_ERROR":
            return "Fix the fields named in the details; nothing was applied."
        return "The backend rejected the request; it was not retried."

    def _shape_error(self, method: str, path: str, expected: str, answer: Any) -> JavaApiError:
        return JavaApiError(
            f"{method} {path} answered {type(answer).__name__} where the contract promises "
            f"{expected}: {self._snippet(json.dumps(answer))!r}",
            endpoint=f"{method} {path}",
            status=200,
        )

    def _snippet(self, text: str) -> str:
        return self._redact(text[:BODY_SNIPPET_CHARS])

    def _redact(self, text: str) -> str:
        text = JWT_PATTERN.sub("<redacted-token>", text)
        for secret in (self._access_token, self._refresh_token, self._password):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self._counts[name] += 1
