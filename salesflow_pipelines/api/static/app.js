// SalesFlow dashboard: plain JavaScript over the read API of the same server, no build step.
// The session lives in HttpOnly cookies set by /api/v1/session/login; every call that changes
// something sends X-Requested-With, which the API requires of cookie-authenticated requests.
"use strict";

const API = "/api/v1";
const DASHBOARD_HEADER = { "X-Requested-With": "salesflow-dashboard" };
const state = { user: null, currency: "USD", chart: null, range: null };

const $ = (id) => document.getElementById(id);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- formatting -------------------------------------------------------------------------------

function money(value) {
  if (value === null || value === undefined) return "n/a";
  return new Intl.NumberFormat("en-US", { style: "currency", currency: state.currency }).format(value);
}
function count(value) {
  if (value === null || value === undefined) return "n/a";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(value);
}
function day(iso) {
  if (!iso) return "n/a";
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}
function shortDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

// -- calls ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function call(path, options = {}, retried = false) {
  const init = { credentials: "same-origin", ...options, headers: { ...DASHBOARD_HEADER, ...(options.headers || {}) } };
  const answer = await fetch(API + path, init);
  if (answer.status === 401 && !retried && !path.startsWith("/session/")) {
    const refreshed = await fetch(API + "/session/refresh", { method: "POST", credentials: "same-origin", headers: DASHBOARD_HEADER });
    if (refreshed.ok) return call(path, options, true);
    showLogin("Your session has ended: sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (!answer.ok) {
    let detail = answer.statusText;
    try { detail = (await answer.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(answer.status, detail);
  }
  return answer;
}
const getJson = async (path) => (await call(path)).json();
const postJson = async (path, body) =>
  (await call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();

// -- session ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  $("dashboard-view").hidden = true;
  $("who").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
}

function showDashboard(user) {
  state.user = user;
  state.currency = user.currency || "USD";
  $("who-name").textContent = `${user.username}${user.is_admin ? " (admin)" : ""}`;
  $("who").hidden = false;
  $("login-view").hidden = true;
  $("dashboard-view").hidden = false;
  $("upload-card").hidden = !user.is_admin;
  load();
}

async function start() {
  try {
    const session = await (await fetch(API + "/session", { credentials: "same-origin" })).json();
    if (session.authenticated) return showDashboard(session);
    if (session.can_refresh) {
      const refreshed = await fetch(API + "/session/refresh", { method: "POST", credentials: "same-origin", headers: DASHBOARD_HEADER });
      if (refreshed.ok) return showDashboard(await refreshed.json());
    }
  } catch (_) { /* offline: the form says so on submit */ }
  showLogin();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-submit").disabled = true;
  $("login-error").textContent = "";
  try {
    const answer = await fetch(API + "/session/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...DASHBOARD_HEADER, "Content-Type": "application/json" },
      body: JSON.stringify({ phoneNumber: $("login-phone").value.trim(), password: $("login-password").value }),
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.detail || "Sign-in failed");
    $("login-password").value = "";
    showDashboard(body);
  } catch (error) {
    $("login-error").textContent = error.message;
  } finally {
    $("login-submit").disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await fetch(API + "/session/logout", { method: "POST", credentials: "same-origin", headers: DASHBOARD_HEADER });
  showLogin("Signed out.");
});

// -- the period -------------------------------------------------------------------------------

function query() {
  const period = $("period").value;
  const params = new URLSearchParams();
  if (period === "custom") {
    params.set("period", "daily");
    if ($("start-date").value) params.set("start_date", $("start-date").value);
    if ($("end-date").value) params.set("end_date", $("end-date").value);
  } else {
    params.set("period", period);
  }
  return params;
}

$("period").addEventListener("change", () => {
  $("custom-dates").hidden = $("period").value !== "custom";
  if ($("period").value !== "custom") load();
});
$("period-form").addEventListener("submit", (event) => { event.preventDefault(); load(); });

async function load() {
  $("dashboard-error").textContent = "";
  const params = query();
  try {
    const [sales, stock] = await Promise.all([
      getJson(`/analytics/sales?${params}`),
      getJson(`/analytics/stock?${params}`),
    ]);
    state.range = { start: sales.start_date, end: sales.end_date, period: params.get("period") };
    $("period-label").textContent = `${sales.period_label} · ${sales.days_with_data} days with data`;
    renderKpis(sales);
    renderProducts(sales);
    renderStock(stock);
    const range = { period: "daily", start_date: sales.start_date, end_date: sales.end_date };
    const [forecast, anomalies, reports] = await Promise.all([
      postJson("/ml/forecast", { payload: { scope: "GLOBAL", forecast_days: 1 } })
        .then((first) => postJson("/ml/forecast", { payload: { scope: "GLOBAL", forecast_days: first.summary.horizon_days } }))
        .catch(() => null),
      postJson("/ml/anomalies", { payload: { scope: "ALL", ...range } }).catch(() => null),
      getJson("/reports/files").catch(() => []),
    ]);
    renderChart(sales, forecast);
    renderAnomalies(anomalies);
    renderReports(reports);
  } catch (error) {
    if (error.status !== 401) $("dashboard-error").textContent = error.message;
  }
}

// -- rendering --------------------------------------------------------------------------------

function changeLine(change, previous, format, higherIsBetter = true) {
  if (change === null || change === undefined) {
    return el("div", { class: "change" }, previous === null ? "no previous data" : `previous: ${format(previous)}`);
  }
  const good = (change >= 0) === higherIsBetter;
  const arrow = change >= 0 ? "▲" : "▼";
  return el("div", { class: "change" },
    el("span", { class: good ? "up" : "down" }, `${arrow} ${change > 0 ? "+" : ""}${change.toFixed(1)}%`),
    ` vs ${format(previous)}`);
}

function renderKpis(sales) {
  const k = sales.kpis;
  const before = k.previous_period;
  const hasBefore = before.days_with_data > 0;
  const cards = [
    ["total_revenue", "Revenue", money],
    ["total_transactions", "Transactions", count],
    ["total_quantity", "Units sold", count],
    ["average_ticket", "Average ticket", money],
  ];
  $("kpis").replaceChildren(...cards.map(([name, label, format]) =>
    el("div", { class: "kpi", dataset: { kpi: name } },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, format(k[name])),
      changeLine(k.change_pct[name], hasBefore ? before[name] : null, format))));
  $("seasonal-hint").textContent = k.seasonal_hint || "";
}

function renderProducts(sales) {
  const rows = sales.kpis.top_products;
  const table = $("top-products");
  table.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", { class: "num" }, "Revenue"),
      el("th", { class: "num" }, "Share"), el("th", { class: "num" }, "Units"))),
    el("tbody", {}, rows.length ? rows.map((p) => el("tr", {},
      el("td", {}, p.name || p.sku || `#${p.product_id}`),
      el("td", { class: "num" }, money(p.revenue)),
      el("td", { class: "num" }, p.share_of_revenue === null ? "" : `${p.share_of_revenue.toFixed(1)}%`),
      el("td", { class: "num" }, count(p.total_quantity))))
      : el("tr", {}, el("td", { colspan: "4", class: "muted" }, "No sales in this period."))));
}

function renderStock(stock) {
  const k = stock.kpis;
  $("stock-kpis").replaceChildren(
    el("span", {}, "Stock value ", el("b", {}, money(k.total_stock_value))),
    el("span", {}, "Out ", el("b", {}, count(k.out_of_stock_count))),
    el("span", {}, "Low ", el("b", {}, count(k.low_stock_count))),
    el("span", {}, "Urgent (<7 days) ", el("b", {}, count(k.urgent_reorder_count))),
    el("span", {}, "as of ", el("b", {}, day(stock.as_of))));
  const alerts = stock.critical_products.filter((p) => p.status !== "DEAD_STOCK");
  const badge = { OUT_OF_STOCK: ["out", "OUT"], LOW_STOCK: ["low", "LOW"], DEAD_STOCK: ["dead", "DEAD"] };
  $("stock-alerts").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", {}, "Status"), el("th", { class: "num" }, "Stock"),
      el("th", { class: "num" }, "Cover (days)"), el("th", { class: "num" }, "Reorder"))),
    el("tbody", {}, alerts.length ? alerts.slice(0, 12).map((p) => el("tr", {},
      el("td", {}, p.name || p.sku),
      el("td", {}, el("span", { class: `badge ${badge[p.status][0]}` }, badge[p.status][1])),
      el("td", { class: "num" }, count(p.current_stock)),
      el("td", { class: "num" }, p.coverage_days === null ? "–" : count(p.coverage_days)),
      el("td", { class: "num" }, p.suggested_reorder_qty === null ? "–" : count(p.suggested_reorder_qty))))
      : el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No product is low or out of stock."))));
}

function renderChart(sales, forecast) {
  const labels = sales.daily.map((d) => d.date);
  const actual = sales.daily.map((d) => d.total_revenue);
  let predicted = [], lower = [], upper = [];
  let note = "";
  if (forecast && forecast.dates.length) {
    const gapDays = (Date.parse(forecast.dates[0]) - Date.parse(sales.end_date)) / 86400000;
    if (gapDays >= 1 && gapDays <= 7) {
      labels.push(...forecast.dates);
      const pad = (values) => [...Array(actual.length).fill(null), ...values];
      predicted = pad(forecast.predictions);
      lower = pad(forecast.lower);
      upper = pad(forecast.upper);
      note = `· forecast for ${forecast.summary.period_label.replace(/^Next/, "the next")}, trend ${forecast.summary.trend} (${forecast.summary.model} model)`;
    } else {
      note = `· the latest forecast covers ${forecast.summary.period_label}`;
    }
  }
  $("forecast-note").textContent = note;
  const data = {
    labels: labels.map(shortDay),
    datasets: [
      { label: "Revenue", data: actual, borderColor: "#2f6fb3", backgroundColor: "#2f6fb3", pointRadius: 2, tension: 0.2 },
      { label: "Forecast", data: predicted, borderColor: "#a15c00", borderDash: [6, 4], pointRadius: 0, tension: 0.2 },
      { label: "80% interval low", data: lower, borderWidth: 0, pointRadius: 0, fill: false },
      { label: "80% interval", data: upper, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(161, 92, 0, 0.18)" },
    ],
  };
  const options = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { labels: { filter: (item) => item.text !== "80% interval low" } },
      tooltip: { callbacks: { label: (ctx) => ctx.raw === null ? null : `${ctx.dataset.label}: ${money(ctx.raw)}` } },
    },
    scales: { y: { beginAtZero: true, ticks: { callback: (value) => money(value).replace(/\.00$/, "") } }, x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } } },
  };
  if (typeof Chart === "undefined") return;
  if (state.chart) state.chart.destroy();
  state.chart = new Chart($("revenue-chart"), { type: "line", data, options });
}

function renderAnomalies(answer) {
  const list = $("anomalies");
  if (!answer) return list.replaceChildren(el("li", { class: "muted" }, "Anomalies could not be read."));
  const recent = [...answer.anomalies].reverse().slice(0, 10);
  list.replaceChildren(...(recent.length ? recent.map((a) => el("li", {},
    el("div", { class: "when" }, el("span", { class: `badge ${a.severity}` }, a.severity.toUpperCase()), ` ${day(a.date)} · ${a.type.replace(/_/g, " ").toLowerCase()}`),
    el("div", {}, a.explanation || ""))) : [el("li", { class: "muted" }, "No anomaly in this period.")]));
}

function renderReports(files) {
  const periods = new Map();  // newest first, as listed; a period's PDF and workbook on one line
  for (const file of files) {
    const key = `${file.kind}/${file.period}`;
    if (!periods.has(key)) periods.set(key, { title: file.title, files: [] });
    periods.get(key).files.push(file);
  }
  const items = [...periods.values()].slice(0, 8).map((period) => el("li", {},
    el("span", {}, period.title),
    el("span", { class: "links" }, period.files.map((f) =>
      el("a", { href: f.url, download: f.name }, f.format === "pdf" ? "PDF" : "Excel")))));
  $("reports").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No scheduled report yet.")]));
}

async function generate(format) {
  const button = format === "pdf" ? $("generate-pdf") : $("generate-xlsx");
  button.disabled = true;
  try {
    const range = state.range || {};
    const answer = await call("/reports/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ payload: { report_type: "combined", format, period: "daily", start_date: range.start, end_date: range.end } }),
    });
    const match = /filename="([^"]+)"/.exec(answer.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await answer.blob());
    const link = el("a", { href: url, download: match ? match[1] : `report.${format === "pdf" ? "pdf" : "xlsx"}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    $("dashboard-error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}
$("generate-pdf").addEventListener("click", () => generate("pdf"));
$("generate-xlsx").addEventListener("click", () => generate("excel"));

// -- upload -----------------------------------------------------------------------------------

const drop = $("drop");
["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer.files.length) $("upload-file").files = event.dataTransfer.files;
});

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const result = $("upload-result");
  if (!file) { result.replaceChildren(el("p", { class: "error" }, "Choose a file first.")); return; }
  $("upload-submit").disabled = true;
  result.replaceChildren(el("p", { class: "muted" }, `Checking ${file.name}…`));
  try {
    const form = new FormData();
    form.append("file", file);
    const answer = await (await call("/excel/import-sales", { method: "POST", body: form })).json();
    const followed = answer.import;
    result.replaceChildren(
      el("p", { class: "summary" }, el("b", {}, answer.status === "success" ? "Accepted: " : "Not imported: "), answer.message),
      followed ? el("p", { class: "muted small" }, `Run key ${followed.run_key} · status: `, el("a", { href: API + followed.status_url, target: "_blank", rel: "noopener" }, followed.status)) : null,
      answer.errors.length ? el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "Sheet"), el("th", { class: "num" }, "Row"), el("th", {}, "Column"), el("th", {}, "Problem"))),
        el("tbody", {}, answer.errors.slice(0, 200).map((e) => el("tr", {},
          el("td", {}, e.sheet), el("td", { class: "num" }, e.row), el("td", {}, e.field), el("td", {}, e.reason)))))) : null);
  } catch (error) {
    if (error.status !== 401) result.replaceChildren(el("p", { class: "error" }, error.message));
  } finally {
    $("upload-submit").disabled = false;
  }
});

start();
