"""The kpis domain's Dagster definitions."""

import dagster as dg

from salesflow_pipelines.defs.kpis import assets

defs = dg.Definitions(assets=dg.load_assets_from_modules([assets]))
