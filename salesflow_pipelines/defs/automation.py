"""Declarative automation: what follows the daily tables, however they were run.

The daily schedule, a CLI range and a UI backfill all end in the same materializations, and the
automation sensor reacts to those, not to which job made them:

- `follows_its_days`: a daily partition (anomalies, stock alerts) is materialized once its own
  day and its look-back days are in, and again whenever one of them changes, for any day, not
  only the newest (a corrected day re-judges the anomalies whose trailing window holds it).
- `follows_the_newest_day`: the forecast (partitioned by its as-of day) is made for the newest day
  once that day's tables are in, and made again when they change; a backfill or a correction of
  old days leaves the forecasts of old days be: they are the record of what was forecast then
  (backfill them on purpose with `forecast_job`). Eager would not do: it waits for every day of
  the forecast's 180-day look-back, which a new shop does not have.
- `scores_as_actuals_arrive`: a day's `forecast_accuracy` is scored once its own KPIs are in and
  some forecast of it exists, and again when either changes (a forecast backfilled, a day
  corrected), for any day.
- `rerenders_after_corrections`: a report already rendered (by its schedule) is rendered again
  when one of its days changes, once the ML tables of those days have followed; the forecast
  does not count (it changes every day) and the corrected report is not emailed again.
"""

import dagster as dg

A = dg.AutomationCondition
FORECAST = dg.AssetSelection.assets("sales_forecast", "sales_forecast_summary")
ACTUALS = dg.AssetSelection.assets("daily_sales_kpis", "product_daily_sales")
AUTOMATION_INTERVAL_SECONDS = 30

follows_its_days = A.eager().without(A.in_latest_time_window()).with_label("eager, any day")

follows_the_newest_day = (
    A.in_latest_time_window()
    & A.any_deps_match(A.newly_updated() & A.in_latest_time_window()).since_last_handled()
    & ~A.any_deps_in_progress()
    & ~A.in_progress()
).with_label("after the newest day's tables")

scores_as_actuals_arrive = (
    A.any_deps_updated().since_last_handled()
    & A.all_deps_match(~A.missing()).allow(ACTUALS)
    & A.any_deps_match(~A.missing()).allow(FORECAST)
    & ~A.any_deps_in_progress()
    & ~A.in_progress()
).with_label("once its day's actuals and a forecast of it are in")

rerenders_after_corrections = (
    ~A.missing()
    & A.any_deps_updated().ignore(FORECAST).since_last_handled()
    & ~A.any_deps_match(A.will_be_requested() | A.in_progress())
    & ~A.in_progress()
).with_label("re-render after its days changed")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL_SECONDS,
    description="Runs the ML tables and report re-renders after the daily tables (see each asset's condition).",
)
