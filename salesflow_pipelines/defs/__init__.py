"""Dagster wiring, one package per domain.

Dagster's beta and preview warnings are silenced here, for the code location, the CLI and
`dagster dev` alike: they name APIs this project chose on purpose (single-run backfill policies,
lookback mappings that allow days before the first partition) and tell a user nothing to act on.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
