"""Run by test_pdf_threads.py in its own process: prescriptions rendered from several threads
at once, as waitress's threads print them. Prints "renders N" and exits 0 when all are done;
a crash in Pango (SIGSEGV/SIGABRT) or a hang shows in the caller as an exit code or a timeout."""
from __future__ import annotations

import datetime as dt
import sys
import threading

from emrs.auth.models import User
from emrs.clinical.models import ClinicalProforma
from emrs.patients.models import Patient
from emrs.prescriptions import pdf
from emrs.prescriptions.models import Prescription


def objects(i: int):
    patient = Patient(name=f"Gurpreet Kaur Sandhu {i}", age=34, sex="F", cr_no="CR2025000123",
                      allergies="Sulfa drugs")
    proforma = ClinicalProforma(visit_date=dt.date(2025, 6, 5), diagnosis="Recurrent depressive disorder",
                                icd_code="6A71", icd_system="ICD-11", icd_title="Recurrent depressive disorder")
    lines = [{"id": k, "medicine": f"Tab Escitalopram {10 + k}mg", "dosage": "1-0-1",
              "when_to_take": "After Food", "frequency": "Twice Daily", "duration": "1 Month",
              "quantity": "60", "details": "ਸਵੇਰੇ / सुबह", "notes": ""} for k in range(1 + i % 3)]
    rx = Prescription(lines=lines, follow_up_date=dt.date(2025, 7, 5), advice="Sleep on time.")
    doctor = User(name="Dr. Harjeet Singh", role="Resident", designation="Junior Resident", email="d@x.local")
    return rx, proforma, patient, doctor


def main() -> int:
    threads_n, per_thread = int(sys.argv[1]), int(sys.argv[2])
    done, failed = [], []

    def work(t: int):
        for i in range(per_thread):
            try:
                ok = pdf.render(*objects(t * per_thread + i)).startswith(b"%PDF")
            except Exception as exc:  # a 503 (queue timeout) or anything else
                failed.append(repr(exc))
                return
            done.append(ok)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"renders {sum(done)} failed {len(failed)}")
    return 0 if not failed and sum(done) == threads_n * per_thread else 1


if __name__ == "__main__":
    sys.exit(main())
