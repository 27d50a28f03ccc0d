"""Prescription PDF render time, in-process: one one-page A5 prescription (3 medication
lines, each with its English/Hindi/Punjabi instruction), rendered N times after a warm-up.

    .venv/bin/python bench/pdf.py [--n 200] [--lines 3] [--page-size A5]
    .venv/bin/python bench/pdf.py --largest --n 5     # the largest prescription the service accepts

Prints the median and p95 of emrs.prescriptions.pdf.render() in milliseconds. Needs no
database: the model objects are built in memory inside an application context.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LINES = [
    {"medicine": "Tab Escitalopram 10mg", "dosage": "1-0-0", "when_to_take": "After Breakfast",
     "frequency": "Once Daily", "duration": "1 Month", "quantity": "30"},
    {"medicine": "Tab Clonazepam 0.25mg", "dosage": "0-0-1", "when_to_take": "Bedtime",
     "frequency": "", "duration": "14 Days", "quantity": "14", "details": "Stop after two weeks"},
    {"medicine": "Tab Propranolol 10mg", "dosage": "½-0-½", "when_to_take": "After Food",
     "frequency": "Twice Daily", "duration": "1 Month", "quantity": "30"},
    {"medicine": "Tab Olanzapine 5mg", "dosage": "0-0-1", "when_to_take": "After Dinner",
     "frequency": "", "duration": "1 Month", "quantity": "30"},
    {"medicine": "Tab Trihexyphenidyl 2mg", "dosage": "1-0-0", "when_to_take": "After Breakfast",
     "frequency": "", "duration": "1 Month", "quantity": "30"},
    {"medicine": "Tab Lorazepam 1mg", "dosage": "SOS", "when_to_take": "", "frequency": "",
     "duration": "Until Symptoms Subside", "quantity": "5"},
]


def _largest():
    """The largest prescription normalise_lines() and the advice check let through: MAX_LINES
    lines whose medicine (off-formulary), details and notes are MAX_FIELD characters each."""
    from emrs.prescriptions.models import Prescription
    from emrs.prescriptions.service import MAX_ADVICE, MAX_FIELD, MAX_LINES
    words = "take after food and avoid driving if drowsy " * 200
    line = {"medicine": ("Escitalopram " + words)[:MAX_FIELD], "strength": "10 mg", "form": "Tablet",
            "dosage": "1-0-1", "when_to_take": "After Food", "frequency": "Twice Daily", "duration": "1 Month",
            "duration_value": 1, "duration_unit": "Month", "quantity": "60",
            "details": words[:MAX_FIELD], "notes": words[:MAX_FIELD]}
    return Prescription(lines=[dict(line, id=i) for i in range(1, MAX_LINES + 1)],
                        follow_up_date=dt.date(2025, 7, 5), advice=(words * 3)[:MAX_ADVICE])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="timed renders (default 200)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--lines", type=int, default=3, choices=range(len(LINES) + 1))
    ap.add_argument("--page-size", default="A5", choices=("A5", "A4"))
    ap.add_argument("--largest", action="store_true",
                    help="MAX_LINES lines, every text field and the advice at their caps")
    args = ap.parse_args()

    from emrs import create_app
    from emrs.auth.models import User
    from emrs.clinical.models import ClinicalProforma
    from emrs.patients.models import Patient
    from emrs.prescriptions import pdf
    from emrs.prescriptions.models import Prescription

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True, "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
    patient = Patient(name="Gurpreet Kaur Sandhu", age=34, sex="F", cr_no="CR2025000123",
                      psy_no="PSY/2025/0456", allergies="Sulfa drugs")
    proforma = ClinicalProforma(visit_date=dt.date(2025, 6, 5), diagnosis="Recurrent depressive disorder",
                                icd_system="ICD-11", icd_code="6A71.1")
    rx = Prescription(lines=[dict(line, id=i) for i, line in enumerate(LINES[:args.lines], 1)],
                      follow_up_date=dt.date(2025, 7, 5), advice="Regular sleep; no alcohol.")
    if args.largest:
        rx = _largest()
        args.lines = len(rx.lines)
    doctor = User(name="Dr. Harjeet Singh", role="Resident", designation="Junior Resident", email="b@x")

    with app.app_context():
        t0 = time.perf_counter()
        first = pdf.render(rx, proforma, patient, doctor, page_size=args.page_size)
        cold = (time.perf_counter() - t0) * 1000
        for _ in range(args.warmup):
            pdf.render(rx, proforma, patient, doctor, page_size=args.page_size)
        times = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            pdf.render(rx, proforma, patient, doctor, page_size=args.page_size)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    print(f"prescription PDF {args.page_size}, {args.lines} lines, {len(first):,} bytes: "
          f"first render {cold:.0f} ms; n={args.n} median {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms, min {times[0]:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
