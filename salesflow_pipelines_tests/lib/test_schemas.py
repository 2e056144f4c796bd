"""Every column of every frame contract says what it holds, so the Dagster UI shows it."""

import inspect
import warnings

import dagster as dg
import pandera.pandas as pa
import pytest
from dagster_pandera import pandera_schema_to_dagster_type

from salesflow_pipelines.lib import schemas

MODELS = [
    model
    for name, model in vars(schemas).items()
    if inspect.isclass(model)
    and issubclass(model, pa.DataFrameModel)
    and model is not pa.DataFrameModel
    and model.__module__ == schemas.__name__
]
# Models that describe frames; private bases (`_Strict`) only carry configuration.
PUBLIC_MODELS = [model for model in MODELS if not model.__name__.startswith("_")]


def table_schema(model: type[pa.DataFrameModel]) -> dg.TableSchema:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(model).metadata["schema"].value


def test_models_are_found():
    names = {model.__name__ for model in PUBLIC_MODELS}
    assert {"RawSaleLine", "SalesLine", "DailySalesKpis", "StockSnapshot", "SalesForecast", "StockAlert"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_column_has_a_description(model):
    schema = table_schema(model)
    undescribed = [column.name for column in schema.columns if not (column.description or "").strip()]
    assert not undescribed, f"{model.__name__}: columns without a description: {undescribed}"


@pytest.mark.parametrize("model", PUBLIC_MODELS, ids=lambda model: model.__name__)
def test_model_description_states_the_grain(model):
    description = model.to_schema().description or ""
    assert description.startswith("One row"), f"{model.__name__}: {description!r}"


def test_reject_reasons_are_the_cleaning_rules_in_their_order():
    from salesflow_pipelines.lib.analytics.cleaning import RULES

    assert tuple(code for code, _, _ in RULES) == schemas.REJECT_REASONS
    assert set(schemas.SalesReject.to_schema().columns["reason"].checks[0].statistics["allowed_values"]) == set(
        schemas.REJECT_REASONS
    )
    description = schemas.SalesReject.to_schema().columns["reason"].description
    positions = [description.index(code) for code in schemas.REJECT_REASONS]
    assert positions == sorted(positions), "the reason column's description lists the rules in another order"


def test_enum_subsets_are_subsets():
    # A stock alert is a snapshot status (LOW, OUT) or the forecast's STOCKOUT_RISK, which no snapshot has.
    assert set(schemas.ALERT_STATUSES) - {schemas.STOCKOUT_RISK} <= set(schemas.STOCK_STATUSES)
    assert schemas.STOCKOUT_RISK not in schemas.STOCK_STATUSES
    assert set(schemas.WRITTEN_SEVERITIES) <= set(schemas.ANOMALY_SEVERITIES)
