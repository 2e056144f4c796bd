"""Text cells of the workbooks written with OpenPyXL: a string from the data is stored as that text, never run."""

from __future__ import annotations

from openpyxl.cell.cell import Cell


def as_text(cell: Cell) -> Cell:
    """`cell`, a string value typed as plain text; any other value (number, date, None) keeps its type.

    OpenPyXL stores a string starting with "=" as a formula, and "#N/A", "#REF!"... as error values, so a
    product named `=HYPERLINK("http://evil.example","x")` would become a live link in the workbook we email.
    The value itself is left exactly as it is (no apostrophe or other prefix).
    """
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell
