"""Clinical option groups: the selectable labels of the proforma's multi-select fields
(entities.md §6, options-and-formulary.md §1).

Seeded defaults are system options (migration 0003): they can be retired (hidden) and
restored, never deleted. User-added options can be retired, restored or deleted.
Labels are unique per group ignoring case. Every change is audited.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from .models import ClinicalOption

ENTITY = "clinical_options"
MAX_LABEL = 255

_DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "data" / "clinical_options.json"
with _DEFAULTS_FILE.open(encoding="utf-8") as _fh:
    DEFAULTS: dict[str, list[str]] = json.load(_fh)

# The LATER extra group (options-and-formulary.md §1).
EXTRA_GROUPS: dict[str, list[str]] = {
    "nature_of_information": ["Reliable", "Unreliable", "Adequate", "Inadequate"],
}
KNOWN_GROUPS: tuple[str, ...] = tuple(DEFAULTS) + tuple(g for g in EXTRA_GROUPS if g not in DEFAULTS)

GROUP_LABELS = {
    "mood": "Mood", "behaviour": "Behaviour", "speech": "Speech", "thought": "Thought",
    "perception": "Perception", "somatic": "Somatic", "bio_functions": "Bio-functions",
    "adjustment": "Adjustment", "cognitive_function": "Cognitive function", "fits": "Fits",
    "sexual_problem": "Sexual problem", "substance_use": "Substance use",
    "associated_medical_surgical": "Associated medical/surgical illness",
    "mse_behaviour": "MSE – Behaviour", "mse_affect": "MSE – Affect & mood",
    "mse_thought": "MSE – Thought", "mse_perception": "MSE – Perception",
    "mse_cognitive_function": "MSE – Cognitive functions", "past_history": "Past history",
    "family_history": "Family history", "nature_of_information": "Nature of information",
}


def is_known(group: str | None) -> bool:
    return group in KNOWN_GROUPS


def group_label(group: str) -> str:
    return GROUP_LABELS.get(group, group.replace("_", " ").capitalize())


def require_group(group: str | None) -> str:
    if not is_known(group):
        raise ValidationError("Unknown option group",
                              errors=[field_error("group", "Unknown option group", group, "params")])
    return group


def clean_label(label) -> str:
    """Trimmed (inner runs of spaces collapsed), 1–255 characters, no control characters."""
    if not isinstance(label, str) or not label.strip():
        raise ValidationError("Label is required", errors=[field_error("label", "Label is required", label)])
    if len(label) > 10 * MAX_LABEL:  # not scanned character by character: megabytes would take seconds
        raise ValidationError("Validation failed",
                              errors=[field_error("label", f"Label must be at most {MAX_LABEL} characters", None)])
    text = " ".join(label.split())
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in label if ch not in " \t\n\r"):
        raise ValidationError("Validation failed",
                              errors=[field_error("label", "Label must not contain control characters", label)])
    if len(text) > MAX_LABEL:
        raise ValidationError("Validation failed",
                              errors=[field_error("label", f"Label must be at most {MAX_LABEL} characters", None)])
    return text


def _ordered(group: str, include_inactive: bool):
    q = select(ClinicalOption).where(ClinicalOption.option_group == group)
    if not include_inactive:
        q = q.where(ClinicalOption.is_active.is_(True))
    return q.order_by(ClinicalOption.display_order, func.lower(ClinicalOption.option_label),
                      ClinicalOption.id)


def options(group: str, include_inactive: bool = False) -> list[ClinicalOption]:
    """A group's options in display order (active ones unless ``include_inactive``)."""
    if not is_known(group):
        return []
    return list(db.session.execute(_ordered(group, include_inactive)).scalars())


def labels(group: str) -> list[str]:
    return [o.option_label for o in options(group)]


def groups() -> dict[str, list[str]]:
    """Every known group → its active labels in display order (empty groups included)."""
    out: dict[str, list[str]] = {g: [] for g in KNOWN_GROUPS}
    rows = db.session.execute(
        select(ClinicalOption.option_group, ClinicalOption.option_label)
        .where(ClinicalOption.is_active.is_(True), ClinicalOption.option_group.in_(KNOWN_GROUPS))
        .order_by(ClinicalOption.option_group, ClinicalOption.display_order,
                  func.lower(ClinicalOption.option_label), ClinicalOption.id)).all()
    for group, label in rows:
        out[group].append(label)
    return out


def find(group: str, label_or_id) -> ClinicalOption | None:
    """An option of ``group`` by id (int or digit string) or by label (ignoring case)."""
    if isinstance(label_or_id, bool) or label_or_id is None:
        return None
    if isinstance(label_or_id, int) and not 0 < label_or_id < 2**31:  # beyond the id column
        return None
    if isinstance(label_or_id, int) or (isinstance(label_or_id, str) and label_or_id.strip().isdecimal()
                                        and len(label_or_id.strip()) <= 9):
        row = db.session.get(ClinicalOption, int(label_or_id))
        if row is not None and row.option_group == group:
            return row
        if isinstance(label_or_id, int):
            return None
    if not isinstance(label_or_id, str) or not label_or_id.strip():
        return None
    return _by_label(group, label_or_id)


def _by_label(group: str, label: str) -> ClinicalOption | None:
    text = " ".join(label.split()).lower()
    return db.session.execute(select(ClinicalOption).where(
        ClinicalOption.option_group == group,
        func.lower(ClinicalOption.option_label) == text)).scalars().first()


def _get(group: str, label_or_id) -> ClinicalOption:
    row = find(require_group(group), label_or_id)
    if row is None:
        raise NotFound("Option not found")
    return row


def _audit(action: str, row: ClinicalOption, actor, **details) -> None:
    audit.record(action, ENTITY, row.id, user_id=getattr(actor, "id", None),
                 details={"group": row.option_group, "is_system": row.is_system, **details})


def add(group: str, label, actor=None) -> ClinicalOption:
    """Add a user option at the end of the group. A retired option with the same label
    (ignoring case) is restored instead; an active one is a Conflict (409)."""
    require_group(group)
    text = clean_label(label)
    existing = _by_label(group, text)
    if existing is not None:
        if existing.is_active:
            raise Conflict("Option already exists")
        existing.is_active = True
        _audit("clinical_option_restore", existing, actor)
        db.session.commit()
        return existing
    top = db.session.execute(select(func.max(ClinicalOption.display_order))
                             .where(ClinicalOption.option_group == group)).scalar()
    row = ClinicalOption(option_group=group, option_label=text, display_order=(top or 0) + 1,
                         is_active=True, is_system=False)
    try:
        with db.session.begin_nested():  # a concurrent add of the same label loses cleanly
            db.session.add(row)
    except IntegrityError:
        raise Conflict("Option already exists") from None
    _audit("clinical_option_add", row, actor)
    db.session.commit()
    return row


def retire(group: str, label_or_id, actor=None) -> ClinicalOption:
    """Hide an option from the proforma (system options too); it can be restored."""
    row = _get(group, label_or_id)
    if row.is_active:
        row.is_active = False
        _audit("clinical_option_retire", row, actor)
        db.session.commit()
    return row


def restore(group: str, label_or_id, actor=None) -> ClinicalOption:
    row = _get(group, label_or_id)
    if not row.is_active:
        row.is_active = True
        _audit("clinical_option_restore", row, actor)
        db.session.commit()
    return row


def delete(group: str, label_or_id, actor=None) -> None:
    """Delete a user-added option for good. System options: Forbidden (403)."""
    row = _get(group, label_or_id)
    if row.is_system:
        raise Forbidden("System options cannot be deleted")
    _audit("clinical_option_delete", row, actor)
    db.session.delete(row)
    db.session.commit()


def move(group: str, option_id, direction: str, actor=None) -> ClinicalOption:
    """Swap an option with its neighbour ("up" or "down") in the group's order. The
    group is renumbered 1..n first, so ties in display_order never block a move."""
    if direction not in ("up", "down"):
        raise ValidationError("Validation failed",
                              errors=[field_error("direction", "direction must be up or down", direction)])
    row = _get(group, option_id)
    rows = list(db.session.execute(_ordered(group, include_inactive=True)).scalars())
    i = rows.index(row)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
        for n, r in enumerate(rows, start=1):
            if r.display_order != n:
                r.display_order = n
        _audit("clinical_option_move", row, actor, direction=direction)
        db.session.commit()
    return row
