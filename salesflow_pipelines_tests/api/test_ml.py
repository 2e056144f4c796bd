"""`/ml/forecast` and `/ml/anomalies` answer the forecast and anomaly tables as they are: the same
days and figures, the frontend's body forms, 404 for an unknown product and 422 beyond the horizon."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines_tests.api.conftest import bearer
from salesflow_pipelines_tests.api.filled import HORIZON_DAYS, LAST_DAY

NEWEST_AS_OF = "as_of_date = (SELECT MAX(as_of_date) FROM analytics.sales_forecast)"


def forecast_rows(warehouse, product_id: int | None = None) -> pd.DataFrame:
    """The rows of the newest as-of day's forecast (the table keeps every day's)."""
    where = "product_id IS NULL" if product_id is None else f"product_id = {int(product_id)}"
    return warehouse.frame(
        f"SELECT * FROM analytics.sales_forecast WHERE {where} AND {NEWEST_AS_OF} ORDER BY forecast_date"
    )


def test_the_whole_shop_forecast_is_the_table_and_its_summary(running_api):
    warehouse = running_api.warehouse
    body = {"payload": {"scope": "GLOBAL", "forecast_days": HORIZON_DAYS, "period": "monthly"}, "required_roles": []}
    answer = running_api.post("/ml/forecast", json=body)
    assert answer.status_code == 200, answer.text
    forecast = answer.json()
    rows = forecast_rows(warehouse)
    assert forecast["dates"] == [day.isoformat() for day in rows["forecast_date"]]
    assert forecast["dates"][0] == (LAST_DAY + timedelta(days=1)).isoformat()
    assert forecast["predictions"] == [float(round_money(value)) for value in rows["predicted_revenue"]]
    assert forecast["lower"] == pytest.approx(rows["lower"].tolist(), abs=0.005)
    assert forecast["upper"] == pytest.approx(rows["upper"].tolist(), abs=0.005)
    assert set(rows["as_of_date"]) == {LAST_DAY}  # the forecast made as of the last day loaded
    [summary] = warehouse.frame(
        "SELECT * FROM analytics.sales_forecast_summary WHERE as_of_date = %s", (LAST_DAY,)
    ).to_dict("records")
    assert forecast["summary"]["total"] == pytest.approx(summary["total"], abs=0.011)
    assert forecast["summary"]["trend"] == summary["trend"]
    assert forecast["summary"]["peak_day"] == summary["peak_day"].isoformat()
    assert forecast["summary"]["horizon_days"] == HORIZON_DAYS and forecast["product"] is None

    week = running_api.post("/ml/forecast", json={"scope": "global"}).json()  # the bare form; 7 days by default
    assert week["dates"] == forecast["dates"][:7] and week["predictions"] == forecast["predictions"][:7]
    assert week["summary"]["total"] == float(round_money(sum(rows["predicted_revenue"][:7])))
    assert week["summary"]["trend"] in {"upward", "downward", "stable"}


@pytest.mark.parametrize("identifier", [{"sku": "sku 0005"}, {"name": "  basmati RICE 5kg "}, {"product_id": 3}])
def test_a_product_forecast_by_sku_name_or_id(running_api, identifier):
    products = running_api.warehouse.frame(
        "SELECT DISTINCT product_id, sku, name FROM analytics.stock_snapshot WHERE snapshot_date = %s", (LAST_DAY,)
    )
    wanted = {"sku": "SKU-0005", "name": "Basmati Rice 5kg", "product_id": 3}
    column = next(iter(identifier))
    product = products[products[column] == wanted[column]].iloc[0]
    answer = running_api.post("/ml/forecast", json={"payload": {"scope": "PRODUCT", "forecast_days": 5, **identifier}})
    assert answer.status_code == 200, answer.text
    forecast = answer.json()
    rows = forecast_rows(running_api.warehouse, product["product_id"])
    assert forecast["product"] == {"id": int(product["product_id"]), "sku": product["sku"], "name": product["name"]}
    assert forecast["predictions"] == [float(round_money(value)) for value in rows["predicted_revenue"][:5]]


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        (
            {"forecast_days": 30},
            422,
            "forecast_days=30 is beyond the forecast horizon: the latest forecast covers 14 days",
        ),
        ({"forecast_days": 0}, 422, "payload.forecast_days: Input should be greater than or equal to 1"),
        ({"forecast_days": 366}, 422, "payload.forecast_days: Input should be less than or equal to 365"),
        ({"scope": "PRODUCT"}, 422, "At least one of 'sku' or 'name' is required when scope=PRODUCT"),
        ({"scope": "PRODUCT", "sku": "SKU-9999"}, 404, "Unknown SKU 'SKU-9999'"),
        ({"scope": "PRODUCT", "name": "Caviar"}, 404, "Unknown product name 'Caviar'"),
        ({"scope": "PRODUCT", "product_id": 999}, 404, "Unknown product id 999"),
        ({"scope": "PRODUCT", "sku": "SKU-0001", "product_id": 2}, 422, "name different products"),
        ({"scope": "SHOP"}, 422, "payload.scope"),
        ({"period": "fortnightly"}, 422, "payload.period"),
    ],
)
def test_bad_forecast_requests_are_4xx_with_a_sentence(running_api, payload, status, detail):
    answer = running_api.post("/ml/forecast", json={"payload": payload})
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


def test_a_product_without_history_has_no_forecast(running_api):
    never_sold = running_api.warehouse.frame(
        "SELECT product_id, sku FROM analytics.stock_snapshot WHERE snapshot_date = %s AND product_id NOT IN "
        f"(SELECT product_id FROM analytics.sales_forecast WHERE product_id IS NOT NULL AND {NEWEST_AS_OF})",
        (LAST_DAY,),
    )
    assert len(never_sold), "the demo shop has a product that never sells"
    sku = never_sold["sku"].iloc[0]
    answer = running_api.post("/ml/forecast", json={"payload": {"scope": "PRODUCT", "sku": sku}})
    assert answer.status_code == 404 and "no sales in the forecast's history window" in answer.json()["detail"]


def test_malformed_json_is_422_not_500(running_api):
    headers = {"Content-Type": "application/json", **bearer()}
    answer = running_api.post("/ml/forecast", content=b"{not json", headers=headers)
    assert answer.status_code == 422 and isinstance(answer.json()["detail"], str)


def expected_anomalies(warehouse, start, end, where: str = "") -> pd.DataFrame:
    return warehouse.frame(
        f"SELECT * FROM analytics.sales_anomalies WHERE sale_date BETWEEN %s AND %s {where} "
        "ORDER BY sale_date, anomaly_id",
        (start, end),
    )


def test_anomalies_are_the_table_rows_of_the_period(running_api):
    warehouse = running_api.warehouse
    answer = running_api.post("/ml/anomalies", json={"payload": {"scope": "GLOBAL", "period": "quarterly"}}).json()
    start = LAST_DAY - timedelta(days=89)
    rows = expected_anomalies(warehouse, start, LAST_DAY, "AND scope = 'total'")
    assert answer["count"] == len(rows) > 0
    assert [item["anomaly_id"] for item in answer["anomalies"]] == rows["anomaly_id"].tolist()
    first, row = answer["anomalies"][0], rows.iloc[0]
    assert first["date"] == row["sale_date"].isoformat() and first["severity"] == row["severity"].lower()
    assert first["type"] == row["label"] and first["explanation"] == row["explanation"]
    assert first["score"] == round(row["z_score"], 2) and first["value"] == round(row["value"], 2)

    everything = running_api.post(
        "/ml/anomalies", json={"payload": {"scope": "ALL", "start_date": "2026-08-01", "end_date": "2026-10-18"}}
    ).json()
    assert everything["count"] == len(expected_anomalies(warehouse, "2026-08-01", "2026-10-18"))
    assert {item["severity"] for item in everything["anomalies"]} <= {"medium", "high"}


def test_anomalies_of_one_product(running_api):
    warehouse = running_api.warehouse
    busiest = warehouse.frame(
        "SELECT scope_key, COUNT(*) AS n FROM analytics.sales_anomalies WHERE scope = 'product' "
        "GROUP BY scope_key ORDER BY n DESC, scope_key LIMIT 1"
    )
    product_id = int(busiest["scope_key"].iloc[0])
    answer = running_api.post(
        "/ml/anomalies",
        json={
            "payload": {
                "scope": "PRODUCT",
                "product_id": product_id,
                "start_date": "2026-08-03",
                "end_date": "2026-10-18",
            }
        },
    ).json()
    assert answer["product_id"] == product_id and answer["product_sku"] == f"SKU-{product_id:04d}"
    assert answer["count"] == int(busiest["n"].iloc[0])


def test_bad_anomaly_requests_are_4xx(running_api):
    cases = [
        ({"start_date": "2026-13-40"}, 422),
        ({"period": "hourly"}, 422),
        ({"scope": "PRODUCT", "sku": "SKU-9999"}, 404),
        ({"start_date": "2026-10-10", "end_date": "2026-10-01"}, 400),
    ]
    for payload, status in cases:
        answer = running_api.post("/ml/anomalies", json={"payload": payload})
        assert answer.status_code == status, (payload, answer.text)
        assert isinstance(answer.json()["detail"], str)
