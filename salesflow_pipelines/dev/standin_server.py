"""A stand-in for the Java backend: the REST contract served from the demo data on loopback.

The standard library's `http.server` on real sockets, with real HS256 JWTs (PyJWT). It keeps stock
levels, created sales and every received bulk request in memory, and can inject the faults the
client must survive (5xx bursts, slow answers, short-lived tokens, broken JSON, a bulk import whose
answer never arrives). Tests start it on port 0; `salesflow standin` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pandas as pd

from salesflow_pipelines.dev.demo import SALE_IDS_PER_DAY, DemoData, day_index
from salesflow_pipelines.lib.backend import payloads

API_PREFIX = "/api/v1"
ISSUER = "salesflow-app"
JWT_ALGORITHM = "HS256"
# `_authorize` checks the claims as the Java backend does, `exp` to the fraction of a second that
# short-lived test tokens need (PyJWT would round it down to whole seconds): PyJWT checks the signature.
SIGNATURE_ONLY: dict[str, Any] = {
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_iss": False,
    "verify_aud": False,
    "verify_sub": False,
    "verify_jti": False,
}
DEFAULT_PAGE_SIZE = 20  # Spring Data's default
MAX_PAGE_SIZE = 2000  # Spring Data's default cap
DEFAULT_HISTORY_DAYS = 90
CACHED_WINDOWS = 32
# Created sales get ids above any demo id of their day, so "ordered by id" stays a concatenation.
CREATED_SALE_ID_OFFSET = 900_000
MALFORMED_BODY = b'{"content": [{"id": 1, "saleDate": '
BULK_SUCCESS = "Bulk sales imported successfully"
UPDATABLE_PRODUCT_FIELDS = (
    "name",
    "price",
    "stockQuantity",
    "lowStockThreshold",
    "description",
    "imageUrl",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandinUser:
    """An account the stand-in accepts at `POST /auth/login`."""

    id: int
    phone: str
    password: str
    username: str
    role: str
    email: str


DEFAULT_USERS = (
    StandinUser(1, "0000000000", "admin123", "admin", "ADMIN", "admin@salesflow.local"),
    StandinUser(2, "1111111111", "user123", "cashier", "USER", "cashier@salesflow.local"),
)


class ApiFailure(Exception):
    """Raised inside a route: answered as an `ApiError` body with this status and code."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass
class Reply:
    """What a route answers; `drop` closes the connection without answering."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    drop: bool = False


@dataclass
class Request:
    """One parsed HTTP request, path relative to the API prefix."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    authorization: str | None


@dataclass
class _EncodedSales:
    """One window's demo sales, each pre-encoded as JSON bytes."""

    in_delivery_order: list[bytes]
    in_id_order: list[bytes]


@dataclass(frozen=True)
class _CreatedSale:
    day: date
    encoded: bytes
    payload: dict[str, Any]


class StandinServer:
    """The Java backend's contract over real HTTP on loopback, backed by `DemoData`.

    Fault injection from tests: `fail_next`, `malformed_next`, `drop_next_bulk_after_apply`,
    and the attributes `delay_seconds`, `token_ttl_seconds`, `refresh_ttl_seconds`.
    Observation: `request_counts` ("METHOD /route" -> count), `received_bulk`,
    `refresh_tokens()`, `created_sales()`.
    """

    def __init__(
        self,
        data: DemoData | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        extensions: bool = True,
        today: date | None = None,
        users: Iterable[StandinUser] = DEFAULT_USERS,
        token_ttl_seconds: float = 3600,
        refresh_ttl_seconds: float = 7 * 24 * 3600,
        jwt_secret: str | bytes | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        self.data = data or DemoData()
        self.host = host
        self.port = port
        self.extensions = extensions
        self.fixed_today = today
        self.users = {user.phone: user for user in users}
        self.token_ttl_seconds = token_ttl_seconds
        self.refresh_ttl_seconds = refresh_ttl_seconds
        if isinstance(jwt_secret, str):
            jwt_secret = jwt_secret.encode()
        self._jwt_secret = jwt_secret or secrets.token_bytes(32)
        self.delay_seconds = delay_seconds
        self.request_counts: Counter[str] = Counter()
        self.received_bulk: list[list[dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple[date, date, bool], _EncodedSales] = OrderedDict()
        self._refresh_tokens: dict[str, tuple[str, float]] = {}
        self._products: list[dict[str, Any]] | None = None
        self._inventory: list[dict[str, Any]] = []
        self._created: list[_CreatedSale] = []
        self._fail_remaining = 0
        self._fail_status = 503
        self._malformed_remaining = 0
        self._drop_next_bulk = False
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], tuple[Callable[[Request], Reply], str | None]] = {
            ("GET", "/sales/history"): (self._sales_history, "USER"),
            ("GET", "/sales/today"): (self._sales_today, "USER"),
            ("GET", "/sales/range"): (self._sales_range, "USER"),
            ("GET", "/products"): (self._list_products, "USER"),
            ("GET", "/inventory"): (self._list_inventory, "USER"),
            ("POST", "/sales/bulk"): (self._bulk_create, "ADMIN"),
            ("PUT", "/products/by-sku/{sku}"): (self._update_product, "ADMIN"),
            ("POST", "/auth/login"): (self._login, None),
            ("POST", "/auth/refresh"): (self._refresh, None),
        }

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://host:port/api/v1` (the bound port once started)."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def today(self) -> date:
        """The server's today: the fixed `today` given, else the machine's date."""
        return self.fixed_today or date.today()

    def start(self) -> StandinServer:
        """Bind and serve in a daemon thread; returns self."""
        http = self._bind()
        self._thread = threading.Thread(target=http.serve_forever, args=(0.1,), name="standin-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until `stop()` or Ctrl-C."""
        http = self._bind()
        try:
            http.serve_forever(poll_interval=0.1)
        except KeyboardInterrupt:
            log.info("Stand-in server interrupted.")
        finally:
            http.server_close()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._http is None:
            return
        self._http.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._http.server_close()
        self._http = None
        self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self) -> _HttpServer:
        self._http = _HttpServer((self.host, self.port), _Handler)
        self._http.standin = self
        self.port = self._http.server_address[1]
        return self._http

    # -- fault injection and observation -------------------------------------------------

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` calls answer `status` with an INTERNAL_ERROR ApiError body."""
        with self._lock:
            self._fail_remaining = n
            self._fail_status = status

    def malformed_next(self, n: int) -> None:
        """The next `n` calls answer 200 with a body that is not valid JSON."""
        with self._lock:
            self._malformed_remaining = n

    def drop_next_bulk_after_apply(self) -> None:
        """Apply the next successful bulk import, then close the connection unanswered."""
        with self._lock:
            self._drop_next_bulk = True

    def refresh_tokens(self) -> set[str]:
        """The refresh tokens that would be accepted right now."""
        now = time.time()
        with self._lock:
            return {token for token, (_, expiry) in self._refresh_tokens.items() if expiry > now}

    def created_sales(self) -> list[dict[str, Any]]:
        """The `SaleResponse`s created by bulk imports so far."""
        with self._lock:
            return [created.payload for created in self._created]

    def product(self, sku: str) -> dict[str, Any]:
        """The current `ProductDto` with this exact SKU (KeyError if none)."""
        with self._lock:
            for product in self._product_state():
                if product["sku"] == sku:
                    return dict(product)
        raise KeyError(sku)

    def issue_token(self, phone: str, ttl_seconds: float | None = None) -> str:
        """Mint an access token for a known user, e.g. a fixed SYSTEM_JWT_TOKEN for tests."""
        user = self.users[phone]
        ttl = self.token_ttl_seconds if ttl_seconds is None else ttl_seconds
        issued = time.time()
        # Whole-second TTLs behave like the Java backend (integer claims); a fractional TTL
        # keeps its precision so tests can use tokens that expire in a fraction of a second.
        expiry = math.ceil(issued + ttl) if float(ttl).is_integer() else round(issued + ttl, 3)
        claims = {
            "iss": ISSUER,
            "sub": user.phone,
            "role": user.role,
            "username": user.username,
            "iat": int(issued),
            "exp": expiry,
        }
        return jwt.encode(claims, self._jwt_secret, algorithm=JWT_ALGORITHM)

    # -- request handling ----------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request: count it, apply injected faults, authorize, route."""
        route_key, route = self._route(request)
        with self._lock:
            self.request_counts[f"{request.method} {route_key}"] += 1
            failing = self._fail_remaining > 0
            malformed = not failing and self._malformed_remaining > 0
            if failing:
                self._fail_remaining -= 1
            elif malformed:
                self._malformed_remaining -= 1
            fail_status = self._fail_status
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        try:
            if failing:
                raise ApiFailure(fail_status, "INTERNAL_ERROR", "Injected failure")
            if malformed:
                return Reply(body=MALFORMED_BODY)
            # Like Spring Security: an unknown path still needs a valid token before its 404.
            role = route[1] if route else "USER"
            if role is not None:
                self._authorize(request, role)
            if route is None:
                raise ApiFailure(404, "NOT_FOUND", f"No endpoint {request.method} {API_PREFIX}{request.path}")
            return route[0](request)
        except ApiFailure as failure:
            return _error_reply(failure)

    def _route(self, request: Request) -> tuple[str, tuple[Callable[[Request], Reply], str | None] | None]:
        path = request.path
        if path.startswith("/products/by-sku/"):
            path = "/products/by-sku/{sku}"
        route = self._routes.get((request.method, path))
        if path == "/sales/range" and not self.extensions:
            route = None
        return path, route

    def _authorize(self, request: Request, role: str | None) -> dict[str, Any]:
        header = request.authorization or ""
        if not header.startswith("Bearer "):
            raise ApiFailure(401, "AUTH_FAILED", "Full authentication is required")
        claims = self._verified_claims(header.removeprefix("Bearer ").strip())
        if claims.get("exp", 0) <= time.time():
            raise ApiFailure(401, "TOKEN_EXPIRED", "JWT token has expired")
        if claims.get("iss") != ISSUER or claims.get("sub") not in self.users:
            raise ApiFailure(401, "AUTH_FAILED", "Token does not name a known user")
        if role == "ADMIN" and claims.get("role") != "ADMIN":
            raise ApiFailure(403, "ACCESS_DENIED", "Access denied: requires role ADMIN")
        return claims

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed with the backend's secret; `_authorize` checks what they say."""
        try:
            return jwt.decode(token, self._jwt_secret, algorithms=[JWT_ALGORITHM], options=SIGNATURE_ONLY)
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise ApiFailure(401, "INVALID_SIGNATURE", "Invalid JWT signature") from None
        except jwt.InvalidTokenError:
            raise ApiFailure(401, "AUTH_FAILED", "Malformed JWT token") from None

    # -- auth routes -----------------------------------------------------------------------

    def _login(self, request: Request) -> Reply:
        body = _json_object(request.body)
        phone, password = body.get("phoneNumber"), body.get("password")
        if not phone or not password:
            raise ApiFailure(
                400,
                "VALIDATION_ERROR",
                "Validation failed",
                {"phoneNumber": "must not be blank", "password": "must not be blank"},
            )
        user = self.users.get(phone)
        if user is None or not hmac.compare_digest(user.password, str(password)):
            raise ApiFailure(401, "INVALID_CREDENTIALS", "Invalid phone number or password")
        return self._token_reply(user, "Login successful")

    def _refresh(self, request: Request) -> Reply:
        token = _json_object(request.body).get("refreshToken")
        with self._lock:
            phone, expiry = self._refresh_tokens.pop(str(token), (None, 0.0))
        if phone not in self.users or expiry <= time.time():
            raise ApiFailure(401, "AUTH_FAILED", "Invalid or expired refresh token")
        return self._token_reply(self.users[phone], "Token refreshed")

    def _token_reply(self, user: StandinUser, message: str) -> Reply:
        refresh_token = secrets.token_urlsafe(32)
        expiry = time.time() + self.refresh_ttl_seconds
        with self._lock:
            self._refresh_tokens[refresh_token] = (user.phone, expiry)
        return _json_reply(
            {
                "accessToken": self.issue_token(user.phone),
                "refreshToken": refresh_token,
                "refreshExpiresAt": datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tokenType": "Bearer",
                "message": message,
                "user": {
                    "id": user.id,
                    "phoneNumber": user.phone,
                    "username": user.username,
                    "email": user.email,
                    "role": user.role,
                },
            }
        )

    # -- sales routes ----------------------------------------------------------------------

    def _sales_history(self, request: Request) -> Reply:
        days = _int_param(request.query, "days", DEFAULT_HISTORY_DAYS, minimum=0)
        return self._sales_array(self.today - timedelta(days=days), self.today)

    def _sales_today(self, request: Request) -> Reply:
        return self._sales_array(self.today, self.today)

    def _sales_array(self, start: date, end: date) -> Reply:
        encoded = self._encoded_sales(start, end).in_delivery_order + self._created_in(start, end)
        return Reply(body=b"[" + b",".join(encoded) + b"]")

    def _sales_range(self, request: Request) -> Reply:
        start = _date_param(request.query, "from")
        end = _date_param(request.query, "to")
        if start > end:
            raise ApiFailure(400, "VALIDATION_ERROR", "Validation failed", {"from": "must not be after 'to'"})
        page = _int_param(request.query, "page", 0, minimum=0)
        size = min(_int_param(request.query, "size", DEFAULT_PAGE_SIZE, minimum=1), MAX_PAGE_SIZE)
        end = min(end, self.today)  # the backend has no sales dated in the future
        encoded = self._encoded_sales(start, end).in_id_order + self._created_in(start, end) if start <= end else []
        total_pages = math.ceil(len(encoded) / size)
        content = encoded[page * size : (page + 1) * size]
        envelope = json.dumps(
            {
                "totalElements": len(encoded),
                "totalPages": total_pages,
                "number": page,
                "size": size,
                "numberOfElements": len(content),
                "first": page == 0,
                "last": page >= total_pages - 1,
                "empty": not content,
            }
        ).encode()
        return Reply(body=b'{"content":[' + b",".join(content) + b"]," + envelope[1:])

    def _encoded_sales(self, start: date, end: date) -> _EncodedSales:
        key = (start, end, self.extensions)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is None:
                sales = payloads.sales_to_payload(self.data.sales_lines(start, end), self.extensions)
                encoded = [json.dumps(sale, separators=(",", ":")).encode() for sale in sales]
                order = sorted(range(len(sales)), key=lambda position: sales[position]["id"])
                cached = _EncodedSales(encoded, [encoded[position] for position in order])
                self._cache[key] = cached
                if len(self._cache) > CACHED_WINDOWS:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
            return cached

    def _created_in(self, start: date, end: date) -> list[bytes]:
        with self._lock:
            return [created.encoded for created in self._created if start <= created.day <= end]

    def _bulk_create(self, request: Request) -> Reply:
        sales = _json_body(request.body)
        if not isinstance(sales, list):
            raise ApiFailure(400, "VALIDATION_ERROR", "Expected a JSON array of sales")
        with self._lock:
            self.received_bulk.append(sales)
            lines = self._validated_bulk_lines(sales)
            self._apply_bulk(lines)
            drop = self._drop_next_bulk
            self._drop_next_bulk = False
        return Reply(drop=True) if drop else Reply(body=BULK_SUCCESS.encode(), content_type="text/plain")

    def _validated_bulk_lines(self, sales: list[Any]) -> list[list[tuple[dict[str, Any], int]]]:
        """Check the whole import as one transaction; answers (product, quantity) per sale."""
        details: dict[str, str] = {}
        for sale_pos, sale in enumerate(sales):
            items = sale.get("items") if isinstance(sale, dict) else None
            if not isinstance(items, list) or not items:
                details[f"[{sale_pos}].items"] = "must not be empty"
                continue
            for item_pos, item in enumerate(items):
                where = f"[{sale_pos}].items[{item_pos}]"
                if not isinstance(item, dict) or not _names_product(item):
                    details[where] = "must name productId (an integer) or sku (a string)"
                elif _quantity(item.get("quantity")) is None:
                    details[f"{where}.quantity"] = "must be an integer greater than or equal to 1"
        if details:
            raise ApiFailure(400, "VALIDATION_ERROR", "Validation failed", details)
        products = self._product_state()
        by_id = {product["id"]: product for product in products}
        by_sku = {product["sku"]: product for product in products}
        remaining = {product["id"]: product["stockQuantity"] for product in products}
        lines = []
        for sale in sales:
            sale_lines = []
            for item in sale["items"]:
                product = by_id.get(item["productId"]) if item.get("productId") is not None else by_sku.get(item["sku"])
                if product is None:
                    named = f"id: {item['productId']}" if item.get("productId") is not None else f"sku: {item['sku']}"
                    raise ApiFailure(404, "NOT_FOUND", f"Product not found with {named}")
                quantity = _quantity(item["quantity"])
                if remaining[product["id"]] < quantity:
                    raise ApiFailure(
                        400,
                        "INSUFFICIENT_STOCK",
                        f"Not enough stock for product {product['sku']}",
                        {
                            "sku": product["sku"],
                            "available": remaining[product["id"]],
                            "requested": quantity,
                        },
                    )
                remaining[product["id"]] -= quantity
                sale_lines.append((product, quantity))
            lines.append(sale_lines)
        return lines

    def _apply_bulk(self, lines: list[list[tuple[dict[str, Any], int]]]) -> None:
        stamp = datetime.combine(self.today, datetime.now().time().replace(microsecond=0))
        first_id = day_index(self.today) * SALE_IDS_PER_DAY + CREATED_SALE_ID_OFFSET + len(self._created)
        rows = []
        for sale_pos, sale_lines in enumerate(lines, start=1):
            subtotals = [round(quantity * product["price"], 2) for product, quantity in sale_lines]
            for line_no, ((product, quantity), subtotal) in enumerate(zip(sale_lines, subtotals, strict=True), start=1):
                rows.append(
                    {
                        "sale_id": first_id + sale_pos,
                        "sale_date": stamp,
                        "total_amount": round(sum(subtotals), 2),
                        "customer_id": None,
                        "region": None,
                        "status": "COMPLETED",
                        "line_no": line_no,
                        "product_id": product["id"],
                        "product_name": product["name"],
                        "sku": product["sku"],
                        "quantity": float(quantity),
                        "unit_price": product["price"],
                        "subtotal": subtotal,
                        "discount": 0.0,
                        "category": None,
                    }
                )
                self._take_stock(product, quantity)
        frame = pd.DataFrame(rows).astype({"customer_id": "Int64"})
        for sale in payloads.sales_to_payload(frame, self.extensions):
            encoded = json.dumps(sale, separators=(",", ":")).encode()
            self._created.append(_CreatedSale(self.today, encoded, sale))

    def _take_stock(self, product: dict[str, Any], quantity: int) -> None:
        product["stockQuantity"] -= quantity
        key = payloads.sku_key(product["sku"])
        for item in self._inventory:
            if payloads.sku_key(item["sku"]) == key:
                item["quantity"] -= quantity

    # -- product routes --------------------------------------------------------------------

    def _product_state(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._products is None:
                self._products = payloads.products_to_payload(self.data.products(self.today))
                self._inventory = payloads.inventory_to_payload(self.data.inventory(self.today))
            return self._products

    def _list_products(self, request: Request) -> Reply:
        with self._lock:
            return _json_reply(self._product_state())

    def _list_inventory(self, request: Request) -> Reply:
        with self._lock:
            self._product_state()
            return _json_reply(self._inventory)

    def _update_product(self, request: Request) -> Reply:
        sku = unquote(request.path.removeprefix("/products/by-sku/"))
        update = _json_object(request.body)
        details = {
            name: "must be an integer greater than or equal to 0"
            for name in ("stockQuantity", "lowStockThreshold")
            if name in update and (not isinstance(update[name], int) or update[name] < 0)
        }
        if details:
            raise ApiFailure(400, "VALIDATION_ERROR", "Validation failed", details)
        with self._lock:
            product = next((p for p in self._product_state() if p["sku"] == sku), None)
            if product is None:
                raise ApiFailure(404, "NOT_FOUND", f"Product not found with sku: {sku}")
            for name in UPDATABLE_PRODUCT_FIELDS:
                if name in update:
                    product[name] = update[name]
            key = payloads.sku_key(sku)
            for item in self._inventory:
                if payloads.sku_key(item["sku"]) == key:
                    item["quantity"] = product["stockQuantity"]
            return _json_reply(product)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    standin: StandinServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind: expected, not an error.
        log.debug("Connection from %s ended abruptly.", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith(API_PREFIX + "/"):
            request = Request(
                method=self.command,
                path=url.path.removeprefix(API_PREFIX),
                query={name: values[-1] for name, values in parse_qs(url.query).items()},
                body=body,
                authorization=self.headers.get("Authorization"),
            )
            try:
                reply = self.server.standin.handle(request)
            except Exception as error:  # a stand-in bug must still answer like Spring would
                log.exception("Stand-in failed on %s %s", self.command, url.path)
                reply = _error_reply(ApiFailure(500, "INTERNAL_ERROR", str(error)))
        else:
            reply = _error_reply(ApiFailure(404, "NOT_FOUND", f"No endpoint {url.path}"))
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _error_reply(failure: ApiFailure) -> Reply:
    return _json_reply(
        {
            "status": failure.status,
            "code": failure.code,
            "message": failure.message,
            "timestamp": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "details": failure.details,
        },
        status=failure.status,
    )


def _json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(value).encode())


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiFailure(400, "VALIDATION_ERROR", "Malformed JSON request body") from None


def _json_object(body: bytes) -> dict[str, Any]:
    value = _json_body(body)
    if not isinstance(value, dict):
        raise ApiFailure(400, "VALIDATION_ERROR", "Expected a JSON object")
    return value


def _int_param(query: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ApiFailure(400, "VALIDATION_ERROR", "Validation failed", {name: f"must be an integer >= {minimum}"})
    return value


def _date_param(query: dict[str, str], name: str) -> date:
    try:
        return date.fromisoformat(query[name])
    except (KeyError, ValueError):
        raise ApiFailure(400, "VALIDATION_ERROR", "Validation failed", {name: "must be a date (yyyy-MM-dd)"}) from None


def _names_product(item: dict[str, Any]) -> bool:
    product_id, sku = item.get("productId"), item.get("sku")
    if product_id is not None:
        return isinstance(product_id, int) and not isinstance(product_id, bool)
    return isinstance(sku, str) and bool(sku)


def _quantity(value: Any) -> int | None:
    """An integer quantity >= 1 (Jackson accepts 2.0 for an int), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not float(value).is_integer() or value < 1:
        return None
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in in the foreground (`salesflow standin`)."""
    parser = argparse.ArgumentParser(
        prog="salesflow standin", description="Serve the Java API contract from demo data."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--no-extensions",
        action="store_true",
        help="serve only contract sections 1-5 (no /sales/range, no optional fields)",
    )
    parser.add_argument("--orders-per-day", type=int, default=200)
    parser.add_argument("--token-ttl", type=float, default=3600, help="access token seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = StandinServer(
        DemoData(orders_per_day=args.orders_per_day),
        host=args.host,
        port=args.port,
        extensions=not args.no_extensions,
        token_ttl_seconds=args.token_ttl,
        # The backend's signing secret, shared with the read API that verifies its tokens.
        jwt_secret=os.environ.get("JAVA_JWT_SECRET") or None,
    )
    accounts = ", ".join(f"{user.phone} ({user.role})" for user in server.users.values())
    log.info(
        "Stand-in Java API on http://%s:%d%s (extensions %s); accounts: %s",
        args.host,
        args.port,
        API_PREFIX,
        "on" if server.extensions else "off",
        accounts,
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
