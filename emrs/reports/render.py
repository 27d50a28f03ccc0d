"""The report as bytes: an A4 PDF (WeasyPrint, the prescription's fonts and header, one render
at a time: emrs/prescriptions/pdf.py) or an Excel workbook (openpyxl, one sheet per section)."""
from __future__ import annotations

import io
from pathlib import Path

from flask import Response, current_app, render_template

from ..downloads import content_disposition

from ..prescriptions import pdf as print_pdf
from ..spreadsheet import xlsx_cell
from ..timeutil import today_ist
from .service import Report

CSS_PATH = Path(__file__).resolve().parent.parent.parent / "static" / "css" / "report-print.css"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def html(report: Report) -> str:
    cfg = current_app.config
    return render_template("reports/pdf.html", report=report, hospital_name=cfg.get("HOSPITAL_NAME") or "",
                           department_name=cfg.get("DEPARTMENT_NAME") or "", logo_url=print_pdf._logo_url(),
                           printed_on=today_ist().strftime("%d %b %Y"))


def to_pdf(report: Report) -> bytes:
    return print_pdf.to_pdf(html(report), "A4", print_pdf._logo_url(), css_path=CSS_PATH)


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for section in report.sections:
        ws = wb.create_sheet(section.sheet[:31])
        ws.append(list(section.columns))
        for cell in ws[1]:
            cell.font = bold
        for row in report.rows(section):
            ws.append([xlsx_cell(v) for v in row])  # no formulas, no control characters from patient data
        ws.freeze_panes = "A2"
        for i, header in enumerate(section.columns, start=1):
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = max(10, min(40, len(header) + 4))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def file_response(report: Report, fmt: str) -> Response:
    if fmt == "xlsx":
        resp = Response(to_xlsx(report), mimetype=XLSX_MIME)
        resp.headers["Content-Disposition"] = content_disposition(f"{report.filename}.xlsx")
    else:
        resp = Response(to_pdf(report), mimetype="application/pdf")
        resp.headers["Content-Disposition"] = content_disposition(f"{report.filename}.pdf", inline=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp
