"""The ingestion domain's Dagster definitions."""

import dagster as dg

from salesflow_pipelines.defs.ingestion import assets

defs = dg.Definitions(assets=dg.load_assets_from_modules([assets]))
