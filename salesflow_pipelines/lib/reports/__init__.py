"""Sales reports: the period's warehouse data gathered into one model, rendered to PDF and Excel.

- `periods`: weekly (Monday to Sunday) and monthly periods, sortable file names
- `model`:   `build_report` gathers the contract's tables into a `SalesReport`
- `pdf`:     `render_pdf` (ReportLab platypus, charts from `charts`, ReportLab graphics)
- `excel`:   `render_xlsx` (OpenPyXL, typed cells, native charts)
- `files`:   atomic writes, the `latest/` copies, the newest report of each kind
"""
