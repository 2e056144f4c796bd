"""Importing sales and stock workbooks (or CSV files) dropped into the inbox into the Java backend.

The old service's upload -> preview -> commit, as plain Python the `excel_import` job calls:

- `reading`: what the file really is; its sheets streamed read-only; merged cells filled;
- `headers`: forgiving header matching (the documented synonym list) and the sheet's kind;
- `validation`: numbers stored as text, pandera models (`lazy=True`), clerk-readable problems;
- `products`: rows resolved against `GET /products`; stock on hand checked before sending;
- `batching`: lines -> sales (`sale_ref`) -> batches of at most 500 sales;
- `ledger`: every batch's state in the warehouse, ahead of every request (never sent twice);
- `reconcile`: the rule that decides whether a batch whose answer was lost was applied;
- `rejects`, `files`: the rejects workbook, the summary, and the file's moves;
- `importer`: the whole import of one file.
"""
