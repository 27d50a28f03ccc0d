"""The printed prescription: one PDF (WeasyPrint), A5 by default or A4.

    render(prescription, proforma, patient, doctor, *, page_size=None) -> bytes

Template templates/prescriptions/pdf.html (autoescaped), styles
static/css/prescription-print.css. The fonts are named in the CSS (Noto Sans / Noto Sans
Devanagari / Noto Sans Gurmukhi, Lohit fallbacks; Debian fonts-noto-core, fonts-lohit-deva,
fonts-lohit-guru). Settings read from app.config: HOSPITAL_NAME, DEPARTMENT_NAME,
PRESCRIPTION_PAGE_SIZE ("A5"), PRESCRIPTION_LOGO (a file path; ignored if missing),
PDF_QUEUE_TIMEOUT (10 s).

Speed: the font configuration and the parsed stylesheet (one per page size) are built once
per process (``warm_up()`` does it ahead of the first print); images are cached between
renders; whitespace-only text between tags is dropped; the cyclic GC pauses while rendering.

One render at a time per process: Pango and fontconfig behind WeasyPrint are not safe to use
from two threads at once. Two concurrent renders in one process crashed it (SIGSEGV/SIGABRT in
libpangoft2, seen under the 50-user OPD load) or deadlocked it; tests/prescriptions/
test_pdf_threads.py renders from 4 threads in a subprocess. A render that cannot start within
PDF_QUEUE_TIMEOUT seconds raises DomainError 503; printing scales with server processes.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
import threading
from pathlib import Path

from flask import current_app, has_app_context
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..errors import DomainError
from . import instructions

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = "prescriptions/pdf.html"
CSS_PATH = ROOT / "static" / "css" / "prescription-print.css"
PAGE_SIZES = ("A5", "A4")
DEFAULTS = {"HOSPITAL_NAME": "PGIMER Chandigarh", "DEPARTMENT_NAME": "Department of Psychiatry",
            "PRESCRIPTION_PAGE_SIZE": "A5", "PRESCRIPTION_LOGO": None, "PDF_QUEUE_TIMEOUT": 10}
BUSY_MESSAGE = "The printer queue is busy; try again in a moment"

_BETWEEN_TAGS = re.compile(r">[ \t]*\n\s*<")
_lock = threading.Lock()
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = True
_font_config = None
_stylesheets: dict[str, object] = {}
_image_cache: dict = {}
_render_lock = threading.Lock()  # one WeasyPrint render at a time in this process (see above)
_standalone_env: Environment | None = None


def _setting(name: str):
    if has_app_context():
        return current_app.config.get(name, DEFAULTS.get(name))
    return DEFAULTS.get(name)


def _weasy(page_size: str, css_path: Path | None = None):
    """(FontConfiguration, CSS) for this page size (and stylesheet: the prescription's unless
    another print, e.g. the patient report, names its own), built once per process."""
    global _font_config
    key = page_size if css_path is None else f"{css_path}:{page_size}"
    css = _stylesheets.get(key)
    if css is not None:
        return _font_config, css
    with _lock:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        if _font_config is None:
            _font_config = FontConfiguration()
        if key not in _stylesheets:
            # A4: the same layout, a little larger type (the prescription's stylesheet only).
            extra = "html { font-size: 10.5pt; }" if page_size == "A4" and css_path is None else ""
            source = (f"@page {{ size: {page_size}; }}\n" + (css_path or CSS_PATH).read_text(encoding="utf-8")
                      + extra)
            _stylesheets[key] = CSS(string=source, font_config=_font_config)
        return _font_config, _stylesheets[key]


@contextlib.contextmanager
def _gc_paused():
    """No cyclic-GC passes during a render (~50 ms): WeasyPrint allocates tens of thousands
    of short-lived objects, and in a large process the collections they trigger cost ~10 %
    of the render. Reference counting still frees memory; the collector resumes (if it was
    on) when the last concurrent render ends."""
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def _template():
    global _standalone_env
    if has_app_context():
        return current_app.jinja_env.get_template(TEMPLATE)
    if _standalone_env is None:
        _standalone_env = Environment(loader=FileSystemLoader(str(ROOT / "templates")),
                                      autoescape=select_autoescape(("html",)))
    return _standalone_env.get_template(TEMPLATE)


def _date(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%d %b %Y")
    return str(value or "")


def _diagnosis(proforma) -> str:
    if proforma is None:
        return ""
    diagnosis = (getattr(proforma, "diagnosis", None) or "").strip()
    code = (getattr(proforma, "icd_code", None) or "").strip()
    title = (getattr(proforma, "icd_title", None) or "").strip()
    system = (getattr(proforma, "icd_system", None) or "").strip()
    version = (getattr(proforma, "icd_version", None) or "").strip()
    coded = " ".join(p for p in (system, code) if p)
    if title and title.lower() != diagnosis.lower():
        coded = f"{coded} {title}".strip() if coded else title
    if code and version:  # the release the code was taken from: "ICD-11 MMS 2026-01", "ICD-10 2019"
        coded += ("; local ICD-11 entry" if version == "local"
                  else f"; {system} {'MMS ' if system == 'ICD-11' else ''}{version}")
    if diagnosis and coded:
        return f"{diagnosis} ({coded})"
    return diagnosis or coded


def _age_sex(patient) -> str:
    age = getattr(patient, "age", None)
    sex = getattr(patient, "sex", None) or ""
    age_text = f"{age} y" if age not in (None, "") else "—"
    return f"{age_text} / {sex}" if sex else age_text


def _allergies(patient) -> str:
    text = (getattr(patient, "allergies", None) or "").strip()
    return "" if text.lower() in ("", "nil", "none", "no", "na", "n/a", "nkda", "-") else text


def _logo_url() -> str | None:
    path = _setting("PRESCRIPTION_LOGO")
    if not path:
        return None
    p = Path(path)
    return p.resolve().as_uri() if p.is_file() else None


def _lines(prescription) -> list[dict]:
    out = []
    for raw in (getattr(prescription, "lines", None) or []) if prescription is not None else []:
        if not isinstance(raw, dict) or not str(raw.get("medicine") or "").strip():
            continue
        line = {k: ("" if raw.get(k) is None else str(raw.get(k))) for k in
                ("medicine", "strength", "form", "dosage", "when_to_take", "frequency", "duration", "quantity",
                 "details", "notes")}
        # "Escitalopram 10 mg": the name with its strength (lines saved before strengths had a
        # field print as they were written).
        line["name"] = " ".join(p for p in (line["medicine"].strip(), line["strength"].strip()) if p)
        if not line["when_to_take"] and raw.get("when"):
            line["when_to_take"] = str(raw["when"])
        if not line["quantity"] and raw.get("qty") is not None:
            line["quantity"] = str(raw["qty"])
        line["say"] = instructions.describe(line)
        out.append(line)
    return out


def _fetcher(logo_url: str | None):
    """A URL fetcher that loads only the configured logo file: no network, no other files."""
    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if logo_url is None or url != logo_url:
                raise ValueError(f"not fetched for a prescription: {url[:80]!r}")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols=("file",))


def html(prescription, proforma, patient, doctor) -> str:
    """The prescription as HTML (what WeasyPrint lays out)."""
    visit = getattr(proforma, "visit_date", None) if proforma is not None else None
    return _template().render(
        hospital_name=_setting("HOSPITAL_NAME") or "",
        department_name=_setting("DEPARTMENT_NAME") or "",
        logo_url=_logo_url(),
        patient=patient,
        age_sex=_age_sex(patient),
        allergies=_allergies(patient),
        visit_date=_date(visit or (getattr(prescription, "created_at", None) if prescription else None)),
        diagnosis=_diagnosis(proforma),
        lines=_lines(prescription),
        advice=(getattr(prescription, "advice", None) or "").strip() if prescription is not None else "",
        follow_up=_date(getattr(prescription, "follow_up_date", None)) if prescription is not None else "",
        doctor_name=(getattr(doctor, "name", None) or "") if doctor is not None else "",
        # The designation; a Resident without one prints their grade ("Senior Resident").
        doctor_designation=((getattr(doctor, "designation", None) or getattr(doctor, "sub_role", None)
                             or getattr(doctor, "role", None) or "") if doctor is not None else ""),
    )


def document(prescription, proforma, patient, doctor, page_size: str | None = None) -> tuple[str, str, str | None]:
    """What one print is made of: (page size, the HTML, the logo's file URL). Everything the
    PDF shows is in these three, so they also name a rendered copy (printing.py)."""
    size = str(page_size or _setting("PRESCRIPTION_PAGE_SIZE") or "A5").upper()
    if size not in PAGE_SIZES:
        raise DomainError(f"Page size must be one of {', '.join(PAGE_SIZES)}", status=400)
    # Whitespace between tags only makes anonymous boxes for WeasyPrint to lay out.
    return size, _BETWEEN_TAGS.sub("><", html(prescription, proforma, patient, doctor)), _logo_url()


def to_pdf(document_html: str, size: str, logo_url: str | None, timeout: float | None = None,
           css_path: Path | None = None) -> bytes:
    """Lay out prepared HTML (``document``) as PDF bytes: one render at a time per process.
    ``css_path``: another print's stylesheet (the same fonts, header and page rules apply)."""
    timeout = float(timeout or _setting("PDF_QUEUE_TIMEOUT") or 10)
    if not _render_lock.acquire(timeout=timeout):
        raise DomainError(BUSY_MESSAGE, status=503, code="pdf_busy")
    try:
        from weasyprint import HTML

        font_config, css = _weasy(size) if css_path is None else _weasy(size, css_path)
        with _gc_paused():
            return HTML(string=document_html, base_url=str(ROOT), url_fetcher=_fetcher(logo_url)).write_pdf(
                stylesheets=[css], font_config=font_config, cache=_image_cache)
    finally:
        _render_lock.release()


def render(prescription, proforma, patient, doctor, *, page_size: str | None = None) -> bytes:
    """The PDF bytes, rendered in this process. page_size "A5" (default: PRESCRIPTION_PAGE_SIZE) or "A4"."""
    size, document_html, logo_url = document(prescription, proforma, patient, doctor, page_size)
    return to_pdf(document_html, size, logo_url)


def warm_up() -> None:
    """Build the font configuration and stylesheets now (the first render otherwise pays
    ~0.7 s for fontconfig); call at start-up if the first print must be fast."""
    with _render_lock:
        for size in PAGE_SIZES:
            _weasy(size)


_other_stylesheets: dict[str, object] = {}


def render_document(document_html: str, css_source: str, key: str, timeout: float | None = None) -> bytes:
    """Another printed document (the OPD slip) with its own stylesheet (parsed once per
    ``key``): the same font configuration, one render at a time, nothing fetched."""
    timeout = float(timeout or _setting("PDF_QUEUE_TIMEOUT") or 10)
    if not _render_lock.acquire(timeout=timeout):
        raise DomainError(BUSY_MESSAGE, status=503, code="pdf_busy")
    try:
        from weasyprint import CSS, HTML

        font_config, _css = _weasy("A5")
        if key not in _other_stylesheets:
            _other_stylesheets[key] = CSS(string=css_source, font_config=font_config)
        with _gc_paused():
            return HTML(string=document_html, base_url=str(ROOT), url_fetcher=_fetcher(None)).write_pdf(
                stylesheets=[_other_stylesheets[key]], font_config=font_config)
    finally:
        _render_lock.release()
