"""Outputs of a report model: JSON, CSV, XLSX and PDF (tables and charts), deterministic so that a
frozen report regenerates to identical bytes (fixed timestamps in XLSX and PDF metadata)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable

from services.reporting.models import SUPPRESSED_MARK, ReportModel, Table

FORMATS = ("json", "csv", "xlsx", "pdf")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
FOOTNOTE = "{mark} = gesperrt: Werte unter {k} und Werte, aus denen sie sich errechnen ließen, werden nicht ausgewiesen."


def _cell(value: object) -> object:
    return SUPPRESSED_MARK if value is None else value


def to_json(model: ReportModel) -> bytes:
    return (model.model_dump_json(indent=2) + "\n").encode()


def to_csv(model: ReportModel) -> bytes:
    """One CSV: per table a block `section;table;column...` rows; suppressed cells as the mark."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(["report", model.title])
    w.writerow(["period", model.period])
    w.writerow(["watermark", model.watermark])
    w.writerow(["note", FOOTNOTE.format(mark=SUPPRESSED_MARK, k=model.suppression_threshold)])
    for section in model.sections:
        for table in section.tables:
            w.writerow([])
            w.writerow(["section", section.title, "table", table.title])
            w.writerow(table.columns)
            for row in table.rows:
                w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Tabelle"
    name, i = base, 2
    while name in used:
        name = f"{base[:25]} {i}"
        i += 1
    used.add(name)
    return name


def to_xlsx(model: ReportModel) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    info = wb.active
    info.title = "Bericht"
    for row in (["Bericht", model.title], ["Zeitraum", model.period], ["Erstellt", model.generated_at.isoformat()],
                ["Datenstand", model.watermark], ["Hinweis", FOOTNOTE.format(mark=SUPPRESSED_MARK, k=model.suppression_threshold)]):
        info.append(row)
    used = {"Bericht"}
    for section in model.sections:
        for table in section.tables:
            ws = wb.create_sheet(_sheet_name(table.title, used))
            ws.append([section.title])
            ws.append([table.title])
            ws.append(table.columns)
            for c in ws[3]:
                c.font = Font(bold=True)
            for row in table.rows:
                ws.append([_cell(v) for v in row])
    fixed = model.generated_at.replace(tzinfo=None, microsecond=0)
    wb.properties.creator = "ankommen"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return _normalise_zip(buf.getvalue(), fixed.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _normalise_zip(data: bytes, stamp: str) -> bytes:
    """Rewrites the XLSX container with fixed entry dates and the report's own time in core.xml
    (openpyxl stamps the save time), so the same model gives the same bytes."""
    import re

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", lambda m: m.group(1) + stamp.encode() + m.group(2), content)
            info = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, content)
    return out.getvalue()


def to_pdf(model: ReportModel) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable


    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=landscape(A4), invariant=1, title=model.title, author="ankommen", creator="ankommen", subject=model.period,
        leftMargin=1.5 * cm, rightMargin=1.5 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm,
    )
    story: list = [Paragraph(model.title, styles["Title"]),
                   Paragraph(f"Zeitraum {model.period} · erstellt {model.generated_at:%Y-%m-%d %H:%M} UTC · Datenstand {model.watermark[:120]}", small),
                   Paragraph(FOOTNOTE.format(mark=SUPPRESSED_MARK, k=model.suppression_threshold), small), Spacer(1, 0.4 * cm)]
    for section in model.sections:
        story.append(Paragraph(section.title, styles["Heading2"]))
        if section.text:
            story.append(Paragraph(section.text, styles["BodyText"]))
        for table in section.tables:
            story.append(Paragraph(table.title, styles["Heading4"]))
            data = [[Paragraph(str(c), small) for c in table.columns]]
            data += [[Paragraph(str(_cell(v)), small) for v in row] for row in table.rows]
            if len(data) == 1:
                data.append([Paragraph("(keine Einträge)", small)] + [""] * (len(table.columns) - 1))
            t = PdfTable(data, repeatRows=1)
            style = [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde5f0")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
            if table.totals:
                style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f0f0f0")))
            t.setStyle(TableStyle(style))
            story.append(t)
            if table.note:
                story.append(Paragraph(table.note, small))
            drawing = chart_for(table)
            if drawing is not None:
                story.append(Spacer(1, 0.2 * cm))
                story.append(drawing)
            story.append(Spacer(1, 0.4 * cm))
    doc.build(story)
    return buf.getvalue()


def chart_for(table: Table):  # type: ignore[no-untyped-def]
    from services.reporting import charts

    if table.chart == "heatmap":
        return charts.heatmap(table)
    if table.chart == "bar":
        return charts.bar_chart(table)
    return None


RENDERERS: dict[str, Callable[[ReportModel], bytes]] = {"json": to_json, "csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}


def render(model: ReportModel, fmt: str) -> bytes:
    return RENDERERS[fmt](model)
