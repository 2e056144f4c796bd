"""The warehouse table contract (docs/design.md section 4): names, columns, types, keys.

Downstream readers (BI tools, the frontend) rely on these; change them only on purpose. Each table
is read off the pandera model of the frame it stores (`schemas`, the one place a column is
written down): a model whose `Config.metadata` names a warehouse table (`schemas.warehouse_table`)
gives the table its columns in the model's order, their types, its primary key (the model's unique
key, unless a key column may be null: a primary key cannot hold NULL), its date column and its
description (the model's docstring).

Column types are logical: `date`, `timestamp`, `int`, `float`, `text`; a datetime column says
which of the first two it is (`schemas.DATE`, `schemas.TIMESTAMP`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from salesflow_pipelines.lib import schemas

SCHEMA = "analytics"
LOGICAL_TYPES = ("date", "timestamp", "int", "float", "text")


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    date_column: str | None
    description: str

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def table_metadata(model: type[pa.DataFrameModel]) -> dict[str, str | None]:
    """The model's `Config.metadata` (see `schemas.warehouse_table`); empty when it has none."""
    return getattr(model.Config, "metadata", None) or {}


def warehouse_models() -> list[type[pa.DataFrameModel]]:
    """The models of `schemas` that are stored as a warehouse table, in the order `schemas` defines them."""
    return [
        model
        for model in vars(schemas).values()
        if inspect.isclass(model)
        and issubclass(model, pa.DataFrameModel)
        and model.__module__ == schemas.__name__
        and table_metadata(model).get("warehouse_table")
    ]


def logical_type(name: str, column: pa.Column) -> str:
    """The warehouse type of a model column, from its pandas dtype (and its marker for a datetime)."""
    dtype = column.dtype.type
    if pd.api.types.is_datetime64_dtype(dtype):
        kind = (column.metadata or {}).get("warehouse_type")
        if kind not in ("date", "timestamp"):
            raise TypeError(f"{name}: a datetime column of a warehouse table needs metadata=DATE or TIMESTAMP")
        return kind
    if pd.api.types.is_bool_dtype(dtype):
        raise TypeError(f"{name}: no warehouse type for {dtype}")
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        return "text"
    raise TypeError(f"{name}: no warehouse type for {dtype}")


def primary_key(schema: pa.DataFrameSchema) -> tuple[str, ...]:
    """The model's unique key (`Config.unique`, else its one unique column), unless a key column may be null."""
    unique = [name for name, column in schema.columns.items() if column.unique]
    if (schema.unique and unique) or len(unique) > 1:
        raise ValueError(f"{schema.name}: more than one unique key, so no single primary key")
    key = tuple(schema.unique or unique)
    return () if any(schema.columns[name].nullable for name in key) else key


def table_of(model: type[pa.DataFrameModel]) -> Table:
    """The warehouse table of a model that names one."""
    schema, metadata = model.to_schema(), table_metadata(model)
    columns = {name: logical_type(f"{model.__name__}.{name}", column) for name, column in schema.columns.items()}
    date_column = metadata.get("date_column")
    if date_column is not None and columns.get(date_column) != "date":
        raise ValueError(f"{model.__name__}: the date column {date_column} is not a date column of the model")
    return Table(metadata["warehouse_table"], columns, primary_key(schema), date_column, schema.description)


TABLES: dict[str, Table] = {table.name: table for table in map(table_of, warehouse_models())}
