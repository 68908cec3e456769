"""Charts with reportlab.graphics: bar charts of report tables (suppressed cells are drawn as 0 and
marked in the table, never their value) and the heat map of fields of action by age group. A drawing
goes into the PDF as a flowable, to SVG through renderSVG, and to PNG by rendering its one-page PDF
with pdfium (no native renderer needed)."""

from __future__ import annotations

import io

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors

from services.reporting.models import Table

PALETTE = [colors.HexColor(c) for c in ("#2f5d8a", "#e07b39", "#5a9e5a", "#a44d8f", "#c9b037", "#6c757d")]


def _numeric_rows(table: Table) -> tuple[list[str], list[str], list[list[float]]]:
    """Categories (rows without the total row), series (numeric columns without the total column)."""
    rows = table.rows[:-1] if table.totals and len(table.rows) > 1 else table.rows
    cols = [j for j in range(1, len(table.columns)) if table.columns[j] != "Summe" and any(isinstance(r[j], int) or r[j] is None for r in rows)]
    cols = [j for j in cols if all(r[j] is None or isinstance(r[j], int) for r in rows)]
    labelled = table.columns[0] == "Kennzahl" and len(table.columns) > 3 and table.columns[1] == "Bezeichnung"
    cats = [str(r[1] if labelled and isinstance(r[1], str) else r[0])[:28] for r in rows]
    data = [[float(r[j] or 0) for r in rows] for j in cols]
    return cats, [table.columns[j] for j in cols], data


def bar_chart(table: Table, width: float = 720, height: float = 190) -> Drawing | None:
    cats, series, data = _numeric_rows(table)
    if not cats or not data or not any(v for s in data for v in s):
        return None
    d = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 45, width - 200, height - 60
    chart.data = data
    chart.categoryAxis.categoryNames = cats
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 6
    for i in range(len(data)):
        chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
    d.add(chart)
    for i, name in enumerate(series[:12]):
        y = height - 15 - i * 11
        d.add(Rect(width - 150, y, 8, 8, fillColor=PALETTE[i % len(PALETTE)], strokeColor=None))
        d.add(String(width - 138, y + 1, str(name)[:24], fontSize=7))
    return d


def heatmap(table: Table, cell_w: float = 62, cell_h: float = 13) -> Drawing:
    """Rows: fields of action; columns: age groups; colour by number of measures (white = gap)."""
    ages = table.columns[1:]
    label_w = 170
    width, height = label_w + cell_w * len(ages) + 20, cell_h * (len(table.rows) + 2) + 10
    d = Drawing(width, height)
    top = height - cell_h - 5
    peak = max([v for r in table.rows for v in r[1:] if isinstance(v, int)] or [1]) or 1
    for j, age in enumerate(ages):
        d.add(String(label_w + j * cell_w + cell_w / 2, top + 3, age, fontSize=7, textAnchor="middle"))
    for i, row in enumerate(table.rows):
        y = top - (i + 1) * cell_h
        d.add(String(2, y + 3, str(row[0])[:34], fontSize=7))
        for j, v in enumerate(row[1:]):
            n = v if isinstance(v, int) else 0
            shade = colors.white if n == 0 else colors.linearlyInterpolatedColor(colors.HexColor("#dbe9f6"), colors.HexColor("#08306b"), 0, peak, n)
            d.add(Rect(label_w + j * cell_w, y, cell_w, cell_h, fillColor=shade, strokeColor=colors.grey, strokeWidth=0.3))
            d.add(String(label_w + j * cell_w + cell_w / 2, y + 3, str(n), fontSize=7, textAnchor="middle",
                         fillColor=colors.white if n > peak / 2 else colors.black))
    return d


def to_svg(drawing: Drawing) -> bytes:
    from reportlab.graphics import renderSVG

    out = renderSVG.drawToString(drawing)
    return out.encode() if isinstance(out, str) else out


def to_png(drawing: Drawing, scale: float = 2.0) -> bytes:
    import pypdfium2 as pdfium
    from reportlab.graphics import renderPDF

    pdf = pdfium.PdfDocument(renderPDF.drawToString(drawing))
    image = pdf[0].render(scale=scale).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf.close()
    return buf.getvalue()
