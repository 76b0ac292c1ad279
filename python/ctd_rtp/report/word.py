"""The report's result tables as a Word file (python-docx): ``ctd-rtp report --docx``.

Built from the results table (`analysis.report_results`), the same cells the page prints: one
Word table per ``table_id`` (row labels down, the table's columns across), its title above and
its source below. Word files are what clinical teams exchange tables in.
"""

from __future__ import annotations

import io

import pandas as pd

from .results import table_title

COLUMN_NAMES = {
    "value": "Value",
    "n": "n",
    "cr": "CR",
    "pr": "PR",
    "nr": "NR",
    "ne": "NE",
    "orr": "ORR",
    "ci": "95% CI",
    "orr_all": "ORR, all patients",
    "p": "p",
    "grade_1": "Grade 1",
    "grade_2": "Grade 2",
    "grade_3": "Grade 3",
    "grade_3_plus": "Grade \u2265 3",
    "any": "Any grade",
    "rate_per_100_patient_months": "Per 100 patient-months",
}


def _heading(column: str) -> str:
    return COLUMN_NAMES.get(column, column.replace("_", " ").capitalize())


def docx_bytes(results: pd.DataFrame, title: str, note: str = "") -> bytes:
    """A .docx holding one table per results table_id, in page order."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.styles["Normal"].font.size = Pt(9)
    doc.add_heading(title, level=1)
    if note:
        doc.add_paragraph(note)
    r = results.sort_values("row_order", kind="stable")
    for table_id, g in r.groupby("table_id", sort=False):
        rows = list(dict.fromkeys(g["row_id"].astype(str)))
        columns = list(dict.fromkeys(g["column_id"].astype(str)))
        labels = dict(zip(g["row_id"].astype(str), g["row_label"].astype(str)))
        cells = {(str(x.row_id), str(x.column_id)): str(x.formatted) for x in g.itertuples(index=False)}
        stored = g["table_title"].dropna().astype(str) if "table_title" in g else pd.Series(dtype=str)
        doc.add_heading(stored.iloc[0] if len(stored) else table_title(str(table_id)), level=2)
        table = doc.add_table(rows=1 + len(rows), cols=1 + len(columns))
        table.style = "Table Grid"
        grid = table.rows  # one cells lookup per row: python-docx resolves each cell through the XML
        for j, cell in enumerate(grid[0].cells[1:]):
            cell.text = _heading(columns[j])
        for i, row in enumerate(rows, start=1):
            row_cells = grid[i].cells
            row_cells[0].text = labels.get(row, row)
            for j, column in enumerate(columns, start=1):
                row_cells[j].text = cells.get((row, column), "")
        sources = ", ".join(
            dict.fromkeys(s.strip() for v in g["source"].astype(str) for s in v.split(",") if s.strip())
        )
        doc.add_paragraph(f"Source: {sources}; analysis.report_results, table_id = '{table_id}'.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
