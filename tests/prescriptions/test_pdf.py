"""emrs.prescriptions.pdf.render: the printed prescription (WeasyPrint), checked the way a
reader sees it — text extracted with pdftotext, fonts with pdffonts, pixels with pdftoppm —
and for missing glyphs (".notdef" boxes) in the PDF's own text operators."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from emrs.auth.models import User
from emrs.clinical.models import ClinicalProforma
from emrs.errors import DomainError
from emrs.patients.models import Patient
from emrs.prescriptions import pdf
from emrs.prescriptions.models import Prescription

POPPLER = ("pdftotext", "pdftoppm", "pdffonts", "pdfinfo")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in POPPLER),
    reason="poppler-utils (pdftotext/pdftoppm/pdffonts/pdfinfo) not installed; CI installs it")

HOSTILE = "<script>alert('x')</script>"


def _objects(medicine_extra=None, allergies="Sulfa drugs"):
    patient = Patient(name="Gurpreet Kaur Sandhu", age=34, sex="F", cr_no="CR2025000123",
                      psy_no="PSY/2025/0456", allergies=allergies)
    proforma = ClinicalProforma(visit_date=dt.date(2025, 6, 5), diagnosis="Recurrent depressive disorder",
                                icd_code="6A71.1", icd_system="ICD-11",
                                icd_title="Recurrent depressive disorder, current episode moderate")
    lines = [
        {"id": 1, "medicine": "Tab Escitalopram 10mg", "dosage": "1-0-1", "when_to_take": "After Food",
         "frequency": "Twice Daily", "duration": "1 Month", "quantity": "60", "details": "", "notes": ""},
        {"id": 2, "medicine": "Tab Clonazepam 0.25mg", "dosage": "0-0-1", "when_to_take": "Bedtime",
         "frequency": "", "duration": "14 Days", "quantity": "14", "details": "Stop after two weeks",
         "notes": ""},
    ]
    if medicine_extra:
        lines.append({"id": 3, "medicine": medicine_extra, "dosage": "SOS", "when_to_take": "",
                      "frequency": "", "duration": "", "quantity": "5", "details": "", "notes": ""})
    rx = Prescription(lines=lines, follow_up_date=dt.date(2025, 7, 5), advice="Sleep on time; no alcohol.")
    doctor = User(name="Dr. Harjeet Singh", role="Resident", designation="Junior Resident",
                  email="doc@test.emrs.local")
    return rx, proforma, patient, doctor


def _run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def _write(tmp_path: Path, data: bytes, name="rx.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _font_rows(path: Path) -> list[str]:
    return _run("pdffonts", str(path)).splitlines()[2:]


def _boxes(rows: list[str]) -> list[str]:
    """Fonts with a missing glyph. WeasyPrint embeds a font with the Identity-H encoding
    unless some character had no glyph in it; then it writes a custom CMap that sends those
    characters to .notdef (the box) and pdffonts reports the encoding as "Custom"."""
    return [r for r in rows if "Identity-H" not in r]


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@needs_poppler
def test_a5_prescription_text_fonts_and_pixels(app_ctx, tmp_path):
    data = pdf.render(*_objects(medicine_extra=HOSTILE))
    assert data.startswith(b"%PDF")
    path = _write(tmp_path, data)

    info = _run("pdfinfo", str(path))
    assert re.search(r"Page size:\s+419\.\d+ x 595\.\d+ pts", info), info  # A5 = 148 x 210 mm
    assert re.search(r"Pages:\s+1\b", info)

    text = _run("pdftotext", "-layout", str(path), "-")
    for expected in ("PGIMER Chandigarh", "Department of Psychiatry", "Gurpreet Kaur Sandhu", "34 y / F",
                     "CR2025000123", "PSY/2025/0456", "05 Jun 2025", "Recurrent depressive disorder",
                     "ICD-11 6A71.1", "Tab Escitalopram 10mg", "1-0-1", "After Food", "1 Month",
                     "Drug allergies: Sulfa drugs", "Sleep on time; no alcohol.", "05 Jul 2025",
                     "Dr. Harjeet Singh", "Junior Resident", "Page 1 of 1",
                     "Take 1 tablet in the morning and 1 tablet at night, after food, for 1 month."):
        assert expected in text, expected
    # Hindi and Punjabi words survive the round trip (words without a pre-base vowel sign:
    # pdftotext drops a reordered ि/ਿ, which is an extraction artefact, not a rendering one).
    for word in ("सुबह", "गोली", "रात", "खाना", "महीने", "ਸਵੇਰੇ", "ਗੋਲੀ", "ਰਾਤ", "ਖਾਣਾ", "ਮਹੀਨੇ"):
        assert word in text, word
    # The hostile medicine name is printed as text, not interpreted.
    assert HOSTILE in text

    rows = _font_rows(path)
    fonts = "\n".join(rows)
    assert rows
    assert any("NotoSansDevanagari" in r.replace("-", "") or "LohitDevanagari" in r.replace("-", "")
               for r in rows), fonts
    assert any("NotoSansGurmukhi" in r.replace("-", "") or "LohitGurmukhi" in r.replace("-", "")
               for r in rows), fonts
    for row in rows:
        assert "Type 3" not in row, row
        assert " yes " in row, f"font not embedded: {row}"  # emb column

    assert _boxes(rows) == [], f"a character was drawn as .notdef (a box): {_boxes(rows)}"

    # Pixels: the page renders, and has ink where the text is.
    _run("pdftoppm", "-png", "-r", "60", "-singlefile", str(path), str(tmp_path / "page"))
    png = tmp_path / "page.png"
    assert png.stat().st_size > 5000
    from PIL import Image

    with Image.open(png) as img:
        gray = img.convert("L")
        dark = sum(gray.histogram()[:128])
        assert gray.size[1] > gray.size[0]  # portrait
        assert dark > 2000, dark


@needs_poppler
def test_a4_page_size_and_config_default(app_ctx, tmp_path):
    path = _write(tmp_path, pdf.render(*_objects(), page_size="A4"))
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts", _run("pdfinfo", str(path)))
    assert "Page 1 of 1" in _run("pdftotext", str(path), "-")

    app_ctx.config["PRESCRIPTION_PAGE_SIZE"] = "A4"
    try:
        path = _write(tmp_path, pdf.render(*_objects()), "default.pdf")
        assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts", _run("pdfinfo", str(path)))
    finally:
        app_ctx.config.pop("PRESCRIPTION_PAGE_SIZE")


@needs_poppler
def test_the_missing_glyph_check_catches_boxes(app_ctx, tmp_path):
    """Control for the box check: a character no installed font has (private use) is caught."""
    clean = _write(tmp_path, pdf.render(*_objects()), "clean.pdf")
    assert _boxes(_font_rows(clean)) == []
    boxed = _write(tmp_path, pdf.render(*_objects(medicine_extra="Tab \ue000\ue001 5mg")), "boxed.pdf")
    assert _boxes(_font_rows(boxed)), "the check did not see the missing glyphs"


@needs_poppler
def test_long_prescription_spans_pages_with_page_numbers(app_ctx, tmp_path):
    rx, proforma, patient, doctor = _objects()
    rx.lines = [dict(rx.lines[0], id=i, medicine=f"Tab Medicine {i}") for i in range(1, 16)]
    path = _write(tmp_path, pdf.render(rx, proforma, patient, doctor))
    text = _run("pdftotext", str(path), "-")
    pages = int(re.search(r"Pages:\s+(\d+)", _run("pdfinfo", str(path))).group(1))
    assert pages >= 2
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Tab Medicine 15" in text and "Dr. Harjeet Singh" in text


def test_html_is_escaped(app_ctx):
    html = pdf.html(*_objects(medicine_extra=HOSTILE))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_optional_parts(app_ctx, tmp_path):
    rx, proforma, patient, doctor = _objects(allergies="Nil")
    rx.advice, rx.follow_up_date, rx.lines = None, None, []
    proforma.icd_code = proforma.icd_system = proforma.icd_title = None
    html = pdf.html(rx, proforma, patient, doctor)
    assert "Drug allergies" not in html and "Advice" not in html and "No medicines prescribed." in html
    assert pdf.render(rx, proforma, patient, doctor).startswith(b"%PDF")


def test_logo_when_configured_and_present(app_ctx, tmp_path):
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(logo)
    app_ctx.config["PRESCRIPTION_LOGO"] = str(logo)
    try:
        assert b"/Image" in pdf.render(*_objects())
        app_ctx.config["PRESCRIPTION_LOGO"] = str(tmp_path / "missing.png")
        assert b"/Image" not in pdf.render(*_objects())
    finally:
        app_ctx.config.pop("PRESCRIPTION_LOGO")


def test_bad_page_size_is_a_400(app_ctx):
    with pytest.raises(DomainError) as err:
        pdf.render(*_objects(), page_size="Letter")
    assert err.value.status == 400


def test_busy_printer_queue_is_a_503(app_ctx):
    app_ctx.config["PDF_QUEUE_TIMEOUT"] = 0.05
    assert pdf._render_lock.acquire(timeout=5)  # another render is running in this process
    try:
        with pytest.raises(DomainError) as err:
            pdf.render(*_objects())
        assert err.value.status == 503
        assert err.value.message == "The printer queue is busy; try again in a moment"
    finally:
        pdf._render_lock.release()
        app_ctx.config.pop("PDF_QUEUE_TIMEOUT")
    assert pdf.render(*_objects()).startswith(b"%PDF")  # free again


def test_renders_in_one_process_run_one_at_a_time(app_ctx, monkeypatch):
    """Pango/fontconfig crash when two threads render at once (see test_pdf_threads.py)."""
    active, peak, lock = [0], [0], threading.Lock()
    real = pdf._weasy

    def counting(size):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            import time
            time.sleep(0.05)
            return real(size)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(pdf, "_weasy", counting)
    objs = _objects()
    errors, done = [], []

    def work():
        with app_ctx.app_context():
            try:
                done.append(pdf.render(*objs).startswith(b"%PDF"))
            except Exception as exc:  # pragma: no cover
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and done == [True] * 5 and peak[0] == 1


def test_doctor_from_the_database(app_ctx, make_user, tmp_path):
    doctor = make_user(name="Dr. Navneet Kaur", designation="Senior Resident")
    rx, proforma, patient, _ = _objects()
    html = pdf.html(rx, proforma, patient, doctor)
    assert "Dr. Navneet Kaur" in html and "Senior Resident" in html
