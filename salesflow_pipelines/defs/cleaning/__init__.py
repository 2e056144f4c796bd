"""The cleaning domain's Dagster definitions."""

import dagster as dg

from salesflow_pipelines.defs.cleaning import assets

defs = dg.Definitions(assets=dg.load_assets_from_modules([assets]))
