"""The warehouse: where KPI tables live (SQLite by default, PostgreSQL in a deployment).

`engine` writes and reads tables, `tables` derives each table from its pandera model, `copy_binary`
and `month_partitions` are PostgreSQL's fast path, `row_periods` maps rows to the days they cover,
`roles` makes the read-only role for BI tools. The names below are what the rest of the code uses.
"""

from salesflow_pipelines.lib.warehouse.engine import (
    Warehouse,
    WarehouseError,
    connect,
    typed,
    without_password,
)

__all__ = ["Warehouse", "WarehouseError", "connect", "typed", "without_password"]
