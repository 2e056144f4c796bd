"""Which monthly partitions a window's write rebuilds, drops or edits in place."""

from datetime import date

from salesflow_pipelines.lib.warehouse import month_partitions
from salesflow_pipelines.lib.warehouse.tables import TABLES

JAN, FEB, MAR, APR = (date(2026, month, 1) for month in (1, 2, 3, 4))


def test_a_day_inside_a_month_is_edited_in_place():
    steps = month_partitions.plan((date(2026, 2, 10), date(2026, 2, 11)), [FEB], [JAN, FEB])
    assert steps == month_partitions.Plan(rebuilt=[], dropped=[], edited_days=[(date(2026, 2, 10), date(2026, 2, 11))])


def test_whole_months_are_rebuilt_and_the_ends_edited():
    window = (date(2026, 1, 15), date(2026, 4, 10))
    steps = month_partitions.plan(window, [JAN, FEB, MAR, APR], [JAN])
    assert steps.rebuilt == [FEB, MAR]
    assert steps.dropped == []
    assert steps.edited_days == [(date(2026, 1, 15), FEB), (APR, date(2026, 4, 10))]


def test_a_covered_month_without_new_rows_loses_its_partition():
    steps = month_partitions.plan((JAN, APR), [JAN, MAR], [JAN, FEB, MAR, APR])
    assert steps.rebuilt == [JAN, MAR]
    assert steps.dropped == [FEB]
    assert steps.edited_days == []


def test_the_whole_table_rebuilds_months_with_rows_and_drops_the_rest():
    steps = month_partitions.plan(None, [FEB], [JAN, FEB])
    assert steps == month_partitions.Plan(rebuilt=[FEB], dropped=[JAN], edited_days=[])


def test_december_is_followed_by_january():
    assert month_partitions.next_month(date(2025, 12, 1)) == JAN
    steps = month_partitions.plan((date(2025, 12, 1), JAN), [date(2025, 12, 1)], [])
    assert steps.rebuilt == [date(2025, 12, 1)]


def test_partition_names_round_trip_and_other_names_are_ignored():
    table = TABLES["product_daily_sales"]
    assert month_partitions.partition_name(table, FEB) == "product_daily_sales_p202602"
    assert month_partitions.month_of_partition(table, "product_daily_sales_p202602") == FEB
    assert month_partitions.month_of_partition(table, "product_daily_sales_archive") is None
    assert month_partitions.month_of_partition(TABLES["daily_sales_kpis"], "product_daily_sales_p202602") is None


def test_tables_whose_key_lacks_the_date_stay_unpartitioned():
    assert month_partitions.partitioned_by_month(TABLES["product_daily_sales"])
    assert month_partitions.partitioned_by_month(TABLES["sales_rejects"])  # no key at all
    assert not month_partitions.partitioned_by_month(TABLES["sales_anomalies"])  # keyed by anomaly_id
