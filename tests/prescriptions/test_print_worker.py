"""Printing outside the web process, each version rendered once (prescriptions/printing.py):
the stored copy is served on the next print, a changed version or corrected patient details
make a new copy, a save renders ahead of the first print, and a print worker that dies (as
Pango did under load) never takes the web process down: the next print still comes."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from emrs.extensions import db
from emrs.patients.models import Patient
from emrs.prescriptions import printing

from ..factories import prescribed

LINES = [{"medicine": "Sertraline 50 mg", "dosage": "1-0-0", "duration": "1 Month"}]


@pytest.fixture(autouse=True)
def cache_dir(app, tmp_path, monkeypatch):
    """Each test its own store (prescription ids repeat after the per-test rollback)."""
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", str(tmp_path / "pdf-cache"))


@pytest.fixture
def rx(client, h):
    made = prescribed(client, h, patient={"name": "Print Worker Patient", "age": 50, "sex": "M"}, lines=LINES)
    return {**made["prescription"], "proforma_id": made["proforma"]["id"]}


def _copies(app, rx_id) -> list[Path]:
    return sorted((Path(app.config["PDF_CACHE_DIR"]) / str(rx_id)).glob("*.pdf"))


def _print(client, h, rx_id, size="A5"):
    resp = client.get(f"/api/prescriptions/{rx_id}/pdf?size={size}", headers=h["resident"])
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF"), resp.get_data()[:200]
    return resp.data


def test_a_version_is_rendered_once_and_served_from_the_stored_copy(app, client, h, rx):
    first = _print(client, h, rx["id"])
    copies = _copies(app, rx["id"])
    assert len(copies) == 1 and copies[0].read_bytes() == first
    stamp = copies[0].stat().st_mtime_ns
    time.sleep(0.05)
    assert _print(client, h, rx["id"]) == first  # the same bytes, not rendered again
    assert _copies(app, rx["id"]) == copies and copies[0].stat().st_mtime_ns == stamp
    _print(client, h, rx["id"], "A4")
    assert len(_copies(app, rx["id"])) == 2  # another page size is another copy


def test_a_new_version_or_corrected_details_print_anew(app, client, h, rx):
    _print(client, h, rx["id"])
    client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [{"medicine": "Sertraline 100 mg"}]},
               headers=h["resident"])
    _print(client, h, rx["id"])
    patient = db.session.get(Patient, rx["patient_id"])
    patient.name = "Print Worker Patient Corrected"
    db.session.commit()
    data = _print(client, h, rx["id"])
    assert len(_copies(app, rx["id"])) == 3
    import shutil
    import subprocess
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
        assert "Corrected" in text and "Sertraline 100 mg" in text


def test_a_save_renders_the_pdf_before_the_first_print(app, client, h, rx):
    app.config["PDF_PRERENDER"] = True
    try:
        client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [{"medicine": "Mirtazapine 15 mg"}]},
                   headers=h["resident"])
        printing.wait_for_background(60)
        copies = _copies(app, rx["id"])
        assert len(copies) == 1
        assert _print(client, h, rx["id"]) == copies[0].read_bytes()  # served, not rendered
        assert _copies(app, rx["id"]) == copies
    finally:
        app.config["PDF_PRERENDER"] = False


def test_a_print_worker_that_dies_never_takes_the_web_process_down(app, client, h, rx):
    assert app.config["PDF_WORKERS"] >= 1
    _print(client, h, rx["id"])  # the pool is running
    pids = list(printing._pool._processes)
    assert pids and os.getpid() not in pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # what a segfault in Pango does to its process
    time.sleep(0.2)
    client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [{"medicine": "Escitalopram 10 mg"}]},
               headers=h["resident"])
    assert _print(client, h, rx["id"]).startswith(b"%PDF")  # a new pool, the same answer
    assert set(printing._pool._processes).isdisjoint(pids)


def test_without_workers_the_web_process_renders(app, client, h, rx):
    app.config["PDF_WORKERS"] = 0
    try:
        assert _print(client, h, rx["id"], "A4").startswith(b"%PDF")
        assert len(_copies(app, rx["id"])) == 1
    finally:
        app.config["PDF_WORKERS"] = 1
