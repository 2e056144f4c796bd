"""Deciding whether a bulk import whose answer was lost was applied, from `GET /sales/today`.

The backend stamps imported sales with "now" and answers no ids, so a batch can only be found by
its content. The rule, in order:

1. **Where to look.** Each batch is sent with an *anchor*: the newest sale id in `/sales/today`
   when the run last read it (or `NO_ANCHOR` when that list was empty). Only sales with a larger
   id can be ours. Between the anchor and the lost batch, this run committed some batches
   ("earlier"): their sales come first, in sending order.
2. **Is the list the whole story?** Only if the server's day has not turned since the batch was
   sent: the anchor sale is still in the list, or (no anchor) an earlier batch is found in it.
   Otherwise the list is *incomplete* (the sales may be dated yesterday) and proves nothing.
3. **Applied** when, after the earlier batches, the batch's sales appear as one unbroken run of
   ids with exactly its items, in its order (the backend writes a bulk import in one
   transaction). -> mark committed; never send it again.
4. **Not applied** when the list is complete and *no* sale after the earlier batches has the
   items of any sale of the batch. The bulk call is all-or-nothing, so none found means none
   applied. -> it may be sent again.
5. Anything else (some look-alike sales but not the whole batch, earlier batches not found, an
   incomplete list) is **undecided**: the run stops, the ledger says `unknown`, a human decides.

Before concluding "not applied" the caller looks twice, a wait apart, so that a request still
being processed by a slow backend has time to land (see `importer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salesflow_pipelines.lib.imports.batching import signature

APPLIED, NOT_APPLIED, UNDECIDED = "applied", "not_applied", "undecided"
Signature = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str


def sale_signature(sale: dict[str, Any]) -> Signature | None:
    """A `SaleResponse`'s items as (product id, quantity), sorted; None when it cannot be read."""
    try:
        return signature(sale.get("items") or [])
    except (KeyError, TypeError, ValueError):
        return None


def _find_block(signatures: Sequence[Signature | None], block: Sequence[Signature], start: int) -> int | None:
    width = len(block)
    if not width:
        return start
    first = block[0]
    for position in range(start, len(signatures) - width + 1):
        if signatures[position] == first and list(signatures[position : position + width]) == list(block):
            return position
    return None


def reconcile(
    batch: Sequence[dict[str, Any]],
    earlier: Sequence[Sequence[dict[str, Any]]],
    today: Sequence[dict[str, Any]],
    anchor_id: int | None,
) -> Verdict:
    """The verdict for `batch` (its `CreateSaleRequest`s) given this run's `earlier` committed
    batches since `anchor_id` (in sending order) and the sales `GET /sales/today` answered."""
    ordered = sorted((sale for sale in today if isinstance(sale.get("id"), int)), key=lambda sale: sale["id"])
    if anchor_id is not None and anchor_id >= 0:
        complete = any(sale["id"] == anchor_id for sale in ordered)
        candidates = [sale for sale in ordered if sale["id"] > anchor_id]
    else:
        complete = False
        candidates = ordered
    signatures = [sale_signature(sale) for sale in candidates]
    pointer = 0
    for number, sales in enumerate(earlier, start=1):
        found = _find_block(signatures, [signature(sale["items"]) for sale in sales], pointer)
        if found is None:
            return Verdict(
                UNDECIDED,
                f"the {number}. batch committed before it is not in GET /sales/today either: the list does not "
                "show everything since the batch was sent (did the day change?)",
            )
        pointer = found + len(sales)
        complete = True
    target = [signature(sale["items"]) for sale in batch]
    if _find_block(signatures, target, pointer) is not None:
        return Verdict(APPLIED, f"all {len(target)} sales found in GET /sales/today, in order, after the anchor")
    look_alikes = sum(1 for found in signatures[pointer:] if found in set(target))
    if not complete:
        return Verdict(
            UNDECIDED,
            "GET /sales/today may not show the batch (the day may have changed since it was sent, or today had "
            "no sales to anchor on), so its absence proves nothing",
        )
    if look_alikes:
        return Verdict(
            UNDECIDED,
            f"{look_alikes} sale(s) created since then have the same items as sales of the batch, but not the "
            "whole batch in one run: they may be till sales or part of it",
        )
    return Verdict(NOT_APPLIED, "no sale created since the batch was sent has the items of any of its sales")
