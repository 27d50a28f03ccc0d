"""The printable prescription: gathers what the PDF shows, renders it once in a print worker
process and serves the stored copy.

* **Rendered once.** A saved version of a prescription never changes, so its PDF is stored under
  ``PDF_CACHE_DIR/<prescription id>/<sha256 of what the PDF shows>.pdf`` (page size, the HTML
  with the patient's details as they are now, the logo). Printing serves that file; a print only
  renders when the stored copy is missing (a new version, a corrected patient name, another
  page size). Saving a prescription renders its default page size at once, in the background
  (``prerender``), so the first print is already waiting.
* **Outside the web process.** WeasyPrint runs in a pool of ``PDF_WORKERS`` worker processes
  (spawned, not forked: Pango and fontconfig do not survive a fork of a threaded process). A
  crash in Pango kills a worker, never a web process: the pool is started again and the print
  tried once more. ``PDF_WORKERS=0`` renders in the web process (one at a time, pdf.py).
* The web process only builds the HTML (a few milliseconds) and waits at most
  ``PDF_QUEUE_TIMEOUT`` seconds for a worker, then answers 503 (``pdf_busy``).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import multiprocessing
import os
import tempfile
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from flask import current_app

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..patients.models import Patient
from . import pdf
from .basis import basis

log = logging.getLogger("emrs.print")

NOTHING_TO_PRINT = ("This prescription has no medicine, so there is nothing to print. "
                    "Add at least one medicine first.")

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_background: set = set()  # futures of prerenders in flight (kept referenced until done)


# --------------------------------------------------------------------------- the worker side

def _worker_start() -> None:
    """In each worker: fonts and stylesheets once, before the first job."""
    for size in pdf.PAGE_SIZES:
        pdf._weasy(size)


def _render_to_file(document_html: str, size: str, logo_url: str | None, path: str, timeout: float) -> int:
    """Runs in a worker process: render and store the copy (written whole, then renamed)."""
    data = pdf.to_pdf(document_html, size, logo_url, timeout=timeout)
    _store(Path(path), data)
    return len(data)


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rendering-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- the web side

def _executor(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start)
            _pool_size = workers
        return _pool


def _restart(broken) -> None:
    """A worker died (a crash in Pango, killed by the OS): the next job starts a new pool."""
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
    log.warning("print worker pool restarted after a worker died")


def shutdown() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def _gather(row):
    proforma = basis(row)  # the proforma, or the follow-up's date with the latest proforma's diagnosis
    patient = db.session.get(Patient, row.patient_id)
    # The signer of this version: whoever made the current version signs what is printed.
    doctor = db.session.get(User, row.signer_id) if row.signer_id else None
    return proforma, patient, doctor


def _cache_path(row, size: str, document_html: str, logo_url: str | None) -> Path:
    key = hashlib.sha256("\0".join((size, logo_url or "", document_html)).encode("utf-8")).hexdigest()
    return Path(current_app.config["PDF_CACHE_DIR"]) / str(int(row.id)) / f"{key}.pdf"


def _render(document_html: str, size: str, logo_url: str | None, path: Path) -> bytes:
    cfg = current_app.config
    timeout = float(cfg.get("PDF_QUEUE_TIMEOUT") or 10)
    workers = int(cfg.get("PDF_WORKERS", 1))
    if workers <= 0:
        data = pdf.to_pdf(document_html, size, logo_url, timeout=timeout)
        _store(path, data)
        return data
    for attempt in (1, 2):
        executor = _executor(workers)
        try:
            executor.submit(_render_to_file, document_html, size, logo_url, str(path), timeout).result(
                timeout=timeout + 30)  # the worker's own queue wait, then the render itself
            _prune(path.parent)
            return path.read_bytes()
        except BrokenProcessPool:
            _restart(executor)
            if attempt == 2:
                raise DomainError("The printer is restarting; try again in a moment", status=503, code="pdf_busy")
        except concurrent.futures.TimeoutError:
            raise DomainError(pdf.BUSY_MESSAGE, status=503, code="pdf_busy")
    raise AssertionError("unreachable")  # pragma: no cover


KEEP_COPIES = 4  # per prescription: both page sizes of the current and the previous version


def _prune(folder: Path) -> None:
    """Copies of earlier versions (or of details since corrected) are not printed again."""
    try:
        copies = sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in copies[KEEP_COPIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def pdf_for(row, size: str | None = None) -> tuple[bytes, str]:
    """The PDF of the prescription's current version (the stored copy when there is one) and
    its download name. A prescription without any medicine is never printed."""
    if not any(isinstance(line, dict) and (line.get("medicine") or "").strip() for line in row.lines or []):
        raise DomainError(NOTHING_TO_PRINT, status=400, code="NO_MEDICINE")
    proforma, patient, doctor = _gather(row)
    page_size = size.upper() if isinstance(size, str) and size.upper() in ("A4", "A5") else None
    size_, document_html, logo_url = pdf.document(row, proforma, patient, doctor, page_size)
    path = _cache_path(row, size_, document_html, logo_url)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = _render(document_html, size_, logo_url, path)
    name = f"prescription-{patient.cr_no or patient.id}-{proforma.visit_date.isoformat()}.pdf"
    return data, name


def prerender(row) -> None:
    """After a save: render the new version's default page size in the background, so the
    first print is served from the stored copy. Never raises (printing renders if this fails)."""
    cfg = current_app.config
    if not cfg.get("PDF_PRERENDER", True) or int(cfg.get("PDF_WORKERS", 1)) <= 0 or not row.lines:
        return
    try:
        proforma, patient, doctor = _gather(row)
        size, document_html, logo_url = pdf.document(row, proforma, patient, doctor)
        path = _cache_path(row, size, document_html, logo_url)
        if path.exists():
            return
        future = _executor(int(cfg["PDF_WORKERS"])).submit(
            _render_to_file, document_html, size, logo_url, str(path), float(cfg.get("PDF_QUEUE_TIMEOUT") or 10))
    except Exception:  # noqa: BLE001 - a background convenience must never fail the save
        log.warning("could not queue the prescription's print", exc_info=False)
        return
    _background.add(future)
    future.add_done_callback(_background.discard)


def wait_for_background(timeout: float = 60) -> None:
    """Tests: wait for the prerenders in flight."""
    concurrent.futures.wait(list(_background), timeout=timeout)
