"""The imports domain: the inbox sensor and the `excel_import` job it requests, one run per file.

They need the `import_settings` resource (inbox, ledger warehouse, limits) and `java_api`, which
the code location provides.
"""

import dagster as dg

from salesflow_pipelines.defs.imports.job import excel_import
from salesflow_pipelines.defs.imports.sensor import import_inbox_sensor

defs = dg.Definitions(jobs=[excel_import], sensors=[import_inbox_sensor])
