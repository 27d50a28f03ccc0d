"""Prescriptions: one row per proforma holding its medication lines (entities.md §8)."""
from __future__ import annotations

from sqlalchemy import select

from ..audit import service as audit
from ..errors import ValidationError, field_error
from ..extensions import db
from .models import Prescription

LINE_KEYS = ("medicine", "dosage", "when_to_take", "frequency", "duration", "quantity", "details", "notes")
MAX_LINES = 50
MAX_FIELD = 500


def normalise_lines(lines) -> list[dict]:
    """Accept the original's shapes: `when`/`qty` aliases, lines without a medicine
    dropped, ids 1-based by position. Bad shapes are a 400, never a 500."""
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise ValidationError("Validation failed", errors=[field_error("prescription", "must be a list of lines")])
    if len(lines) > MAX_LINES:
        raise ValidationError("Validation failed",
                              errors=[field_error("prescription", f"at most {MAX_LINES} medication lines")])
    out = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise ValidationError("Validation failed",
                                  errors=[field_error(f"prescription[{i}]", "each line must be an object")])
        item = {}
        for key in LINE_KEYS:
            value = line.get(key)
            if value is None and key == "when_to_take":
                value = line.get("when")
            if value is None and key == "quantity":
                value = line.get("qty")
            if value is None:
                value = ""
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or len(value) > MAX_FIELD or "\x00" in value:
                raise ValidationError("Validation failed", errors=[field_error(
                    f"prescription[{i}].{key}", f"{key} must be text of at most {MAX_FIELD} characters")])
            item[key] = value.strip()
        if not item["medicine"]:
            continue
        out.append(item)
    for n, item in enumerate(out, start=1):
        item["id"] = n
    return [{"id": it["id"], **{k: it[k] for k in LINE_KEYS}} for it in out]


def for_proforma(proforma_id: int) -> Prescription | None:
    return db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == proforma_id)
                              ).scalar_one_or_none()


def replace_for_proforma(proforma, lines: list[dict], actor) -> Prescription:
    """One row per proforma: a new save replaces the lines. Caller's transaction."""
    row = for_proforma(proforma.id)
    if row is None:
        row = Prescription(patient_id=proforma.patient_id, clinical_proforma_id=proforma.id, lines=lines,
                           created_by=actor.id if actor else None)
        db.session.add(row)
        db.session.flush()
        action = "prescription_create"
    else:
        row.lines = list(lines)
        row.version += 1
        action = "prescription_update"
    audit.record(action, "prescriptions", row.id, patient_id=proforma.patient_id,
                 details={"lines": len(lines)})
    return row


def prescription_dict(row: Prescription) -> dict:
    return row.to_dict()
