"""The OPD slip: what the counter hands the patient. A PDF (WeasyPrint, through
prescriptions.pdf.render_document: the same fonts and one render at a time) in two sizes,
A6 and an 80 mm thermal roll: hospital and department, patient name, CR number, room,
token, date (IST), doctor when known, and a QR code of the CR number (segno, inline SVG;
a USB scanner reading it types the CR number and Enter into the counter's box).

Template templates/opd/slip_pdf.html, styles static/css/opd-slip.css."""
from __future__ import annotations

from pathlib import Path

import segno
from flask import current_app, render_template
from markupsafe import Markup

from ..prescriptions import pdf

ROOT = Path(__file__).resolve().parent.parent.parent
CSS_PATH = ROOT / "static" / "css" / "opd-slip.css"
SIZES = {"a6": "A6", "80mm": "80mm 120mm"}


def qr_svg(text: str) -> Markup:
    """A QR code (never Micro QR: counter scanners read the standard one) as inline SVG,
    sized by CSS."""
    code = segno.make_qr(text, error="m")
    return Markup(code.svg_inline(omitsize=True, border=2, dark="#000", light="#fff"))


def html(facts: dict, size: str) -> str:
    cfg = current_app.config
    return render_template("opd/slip_pdf.html", size=size, qr=qr_svg(facts["patient"].cr_no or str(facts["patient"].id)),
                           hospital_name=cfg.get("HOSPITAL_NAME") or "PGIMER Chandigarh",
                           department_name=cfg.get("DEPARTMENT_NAME") or "Department of Psychiatry", **facts)


def render(facts: dict, size: str = "a6") -> bytes:
    """The slip as PDF bytes; ``size`` "a6" or "80mm"."""
    page = SIZES[size]
    css = f"@page {{ size: {page}; margin: {'6mm' if size == 'a6' else '3mm 4mm'}; }}\n" + \
        CSS_PATH.read_text(encoding="utf-8")
    return pdf.render_document(html(facts, size), css, key=f"opd-slip-{size}")
