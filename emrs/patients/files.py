"""Patient file attachments: upload, list, download, delete, statistics.

The one place the rules live (api-contract.md §7, roles-and-workflow.md §3):
pages (patients/files_views.py) and the API (api/patient_files.py) call these.

* One ``PatientFile`` row per stored file; the on-disk name is random
  (``secrets.token_hex(16)`` + an extension derived from the DETECTED type) and lives
  under ``UPLOAD_FOLDER/<patient_id>/``. The uploader's file name is only displayed.
* Types are decided from the content (magic bytes), never from the name or the
  browser's Content-Type.
* An upload is all-or-nothing: every file is checked first, then written, then the
  rows are committed; on any failure the written files are removed and nothing is kept.
  A process killed between writing and committing cannot clean up: its files stay on
  disk without a row (never shown, never served). ``sweep()`` (`flask files sweep`, run
  at start-up) removes such unreferenced files once they are older than any upload can
  take. bench/faults.py sigkill checks this.
* Admin and Psychiatric Welfare Officer may delete any file; Faculty and Resident only
  the files they uploaded.
"""
from __future__ import annotations

import codecs
import datetime as dt
import functools
import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from typing import Iterable

from flask import current_app, has_request_context
from sqlalchemy import bindparam, func, select

from .. import timeline
from ..audit import service as audit
from ..auth import records
from ..auth.models import ADMIN, PWO, User
from ..auth.service import role_matches
from ..errors import DomainError, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..models_base import utcnow
from ..timeutil import IST
from .models import Patient, PatientFile

log = logging.getLogger("emrs.patients.files")

MAX_FILES = 20
MAX_FILE_SIZE = 10 * 1024 * 1024  # 10 MB
CHUNK = 64 * 1024

TOO_MANY = "Too many files. Maximum 20 files allowed."
TOO_LARGE = "File size exceeds 10MB limit"
NO_FILES = "No files uploaded"
NOT_IN_RECORD = "File not found in patient record"
INVALID_PATH = "Invalid file path"
NO_PERMISSION = ("You do not have permission to edit/delete these files. "
                 "You can only edit/delete files you uploaded.")

# Detected MIME type -> (stored extension, label shown to people)
ALLOWED: dict[str, tuple[str, str]] = {
    "image/jpeg": (".jpg", "JPEG image"),
    "image/png": (".png", "PNG image"),
    "image/gif": (".gif", "GIF image"),
    "image/webp": (".webp", "WebP image"),
    "application/pdf": (".pdf", "PDF document"),
    "application/msword": (".doc", "Word document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx", "Word document"),
    "text/plain": (".txt", "Text file"),
}
ALLOWED_LIST = ("image/jpeg, image/jpg, image/png, image/gif, image/webp, application/pdf, "
                "application/msword, application/vnd.openxmlformats-officedocument.wordprocessingml.document, "
                "text/plain")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# What the file picker offers (the server still decides from the content).
ACCEPT = ".jpg,.jpeg,.png,.gif,.webp,.pdf,.doc,.docx,.txt,image/*,application/pdf,text/plain"

STORED_NAME_RE = re.compile(r"[0-9a-f]{32}\.[a-z]{3,4}")
API_PATH_RE = re.compile(r"/?api/patient-files/(\d{1,10})/download/(\d{1,10})")


def not_allowed_message(detected: str) -> str:
    return f"File type {detected} is not allowed. Allowed types: {ALLOWED_LIST}"


# ------------------------------------------------------------------ content sniffing

def _is_utf8_text(stream) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                decoder.decode(b"", final=True)
                return True
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
    except UnicodeDecodeError:
        return False


def _is_docx(stream) -> bool:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as zf:  # reads the central directory only
            return any(n.startswith("word/") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def sniff(stream, size: int) -> str:
    """The MIME type of a seekable stream, decided from its bytes."""
    if size == 0:
        return "application/x-empty"
    stream.seek(0)
    head = stream.read(16)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"GIF87a") or head.startswith(b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "application/msword"
    if head.startswith(b"PK\x03\x04"):
        if _is_docx(stream):
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return "application/zip"
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if _is_utf8_text(stream):
        return "text/plain"
    return "application/octet-stream"


def display_name(raw: str | None, ext: str) -> str:
    """The uploader's file name for display only: no path parts, no control characters, ≤255."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        name = "file" + ext
    if len(name) > 255:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[:254 - len(suffix)] + "." + suffix
        else:
            name = name[:255]
    return name


@dataclass
class _Checked:
    storage: object
    stream: object
    size: int
    mime: str
    ext: str
    name: str
    sha256: str


def _stream_of(storage):
    stream = storage.stream
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        return stream, size
    except (AttributeError, OSError, io.UnsupportedOperation):
        data = stream.read(MAX_FILE_SIZE + 1)
        return io.BytesIO(data), len(data)


def _check(storage) -> _Checked:
    raw_name = getattr(storage, "filename", None) or ""
    shown = display_name(raw_name, "")
    stream, size = _stream_of(storage)
    if size > MAX_FILE_SIZE:
        raise ValidationError(TOO_LARGE, errors=[field_error("files", TOO_LARGE, shown)])
    mime = sniff(stream, size)
    if mime not in ALLOWED:
        msg = not_allowed_message(mime)
        raise ValidationError(msg, errors=[field_error("files", msg, shown)])
    ext = ALLOWED[mime][0]
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    stream.seek(0)
    return _Checked(storage, stream, size, mime, ext, display_name(raw_name, ext), digest.hexdigest())


def _real_files(storages: Iterable) -> list:
    """Drop the empty part a browser sends when no file was chosen."""
    out = []
    for s in storages or ():
        if s is None:
            continue
        if not getattr(s, "filename", None):
            stream, size = _stream_of(s)
            if size == 0:
                continue
        out.append(s)
    return out


# ------------------------------------------------------------------ storage

def upload_root() -> str:
    return os.path.abspath(current_app.config["UPLOAD_FOLDER"])


def patient_dir(patient_id: int) -> str:
    return os.path.join(upload_root(), str(int(patient_id)))


def stored_path(row: PatientFile) -> str:
    """Absolute path of a stored file, computed only from the row (never from user input)."""
    if not STORED_NAME_RE.fullmatch(row.stored_name or ""):
        raise NotFound("File not found")
    path = os.path.join(patient_dir(row.patient_id), row.stored_name)
    root = upload_root()
    if os.path.commonpath([root, os.path.abspath(path)]) != root:  # belt and braces
        raise NotFound("File not found")
    return path


def _unlink_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover - disk trouble is logged, not shown
        log.error("could not remove stored file %s: %s", os.path.basename(path), type(exc).__name__)


# ------------------------------------------------------------------ permissions

def can_delete(row: PatientFile, actor: User | None) -> bool:
    """Who may remove a scan: auth/records.py (its uploader, a welfare officer, an Admin)."""
    return records.may(actor, records.WITHDRAW, records.FILE, row.uploaded_by)


def can_edit(rows: list[PatientFile], actor: User | None) -> bool:
    """Record-level flag of the contract: Admin/PWO always; a doctor when they uploaded
    one of the patient's current files."""
    if actor is None:
        return False
    if role_matches(actor.role, {ADMIN, PWO}):
        return True
    return any(r.uploaded_by == actor.id for r in rows)


# ------------------------------------------------------------------ queries

def _active_rows(patient_id: int) -> list[PatientFile]:
    return list(db.session.execute(
        select(PatientFile).where(PatientFile.patient_id == patient_id, PatientFile.is_deleted.is_(False))
        .order_by(PatientFile.created_at.desc(), PatientFile.id.desc())
    ).scalars())


def current_files(patient: Patient) -> list[PatientFile]:
    """The patient's files (not deleted), newest first, without an audit row."""
    return _active_rows(patient.id)


def find_file(patient: Patient, ref) -> PatientFile:
    """A current file of this patient by id (int) or stored name; NotFound otherwise."""
    q = select(PatientFile).where(PatientFile.patient_id == patient.id, PatientFile.is_deleted.is_(False))
    if isinstance(ref, str) and ref.isdecimal() and len(ref) <= 10:
        ref = int(ref)
    if isinstance(ref, int) and not isinstance(ref, bool):
        q = q.where(PatientFile.id == ref)
    elif isinstance(ref, str) and STORED_NAME_RE.fullmatch(ref):
        q = q.where(PatientFile.stored_name == ref)
    else:
        raise NotFound(NOT_IN_RECORD)
    row = db.session.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFound(NOT_IN_RECORD)
    return row


def resolve_path(patient: Patient, file_path) -> PatientFile:
    """Map a client-supplied file path (as returned by the API) to one of the patient's files.

    Anything path-like that is not exactly one of our paths is a 400 ``Invalid file path``;
    a well-formed path that is not this patient's current file is a 404.
    """
    if not isinstance(file_path, str) or not file_path or len(file_path) > 300:
        raise ValidationError(INVALID_PATH)
    s = file_path.strip()
    if (".." in s or "\\" in s or "%" in s or "\x00" in s or ":" in s
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in s)):
        raise ValidationError(INVALID_PATH)
    m = API_PATH_RE.fullmatch(s)
    if m:
        if int(m.group(1)) != patient.id:
            raise NotFound(NOT_IN_RECORD)
        return find_file(patient, int(m.group(2)))
    if STORED_NAME_RE.fullmatch(s):
        return find_file(patient, s)
    if "/" in s:
        raise ValidationError(INVALID_PATH)
    raise NotFound(NOT_IN_RECORD)


# ------------------------------------------------------------------ operations

def _write(checked: list[_Checked], patient: Patient, actor: User | None,
           written: list[str], intake_record_id: int | None = None,
           followup_id: int | None = None) -> list[PatientFile]:
    folder = patient_dir(patient.id)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for c in checked:
        stored = secrets.token_hex(16) + c.ext
        path = os.path.join(folder, stored)
        c.stream.seek(0)
        with open(path, "xb") as out:
            written.append(path)
            shutil.copyfileobj(c.stream, out, CHUNK)
        row = PatientFile(patient_id=patient.id, stored_name=stored, original_name=c.name,
                          mime_type=c.mime, size_bytes=c.size, sha256=c.sha256,
                          uploaded_by=actor.id if actor is not None else None,
                          intake_record_id=intake_record_id, followup_id=followup_id)
        db.session.add(row)
        rows.append(row)
    return rows


def _validate_all(storages) -> list[_Checked]:
    files = _real_files(storages)
    if not files:
        raise ValidationError(NO_FILES)
    if len(files) > MAX_FILES:
        raise ValidationError(TOO_MANY)
    return [_check(s) for s in files]


def upload(patient: Patient, storages, actor: User | None, intake_record_id: int | None = None,
           followup_id: int | None = None) -> list[PatientFile]:
    """Store several files for a patient, all or nothing. Returns the new rows. With
    ``intake_record_id`` (the patient's own intake record) or ``followup_id`` (a follow-up
    note of the patient, written in the same transaction) they are its attachments."""
    return update(patient, storages, [], actor, require_files=True, intake_record_id=intake_record_id,
                  followup_id=followup_id)[0]


def check_intake_record(patient: Patient, raw) -> int | None:
    """The intake record id sent with an upload must be this patient's record."""
    if raw in (None, ""):
        return None
    from ..intake.models import IntakeRecord
    rid = int(raw) if isinstance(raw, (int, str)) and str(raw).isdecimal() and len(str(raw)) < 10 else None
    record = db.session.get(IntakeRecord, rid) if rid else None
    if record is None or record.patient_id != patient.id:
        raise ValidationError("The intake record does not belong to this patient")
    return record.id


def update(patient: Patient, storages, remove: list[PatientFile], actor: User | None,
           require_files: bool = False, intake_record_id: int | None = None, followup_id: int | None = None
           ) -> tuple[list[PatientFile], list[PatientFile]]:
    """Add new files and soft-delete ``remove`` in one transaction (all or nothing).

    Returns (added rows, removed rows)."""
    files = _real_files(storages)
    if require_files or not remove:
        if not files:
            raise ValidationError(NO_FILES)
    for row in remove:
        if row.patient_id != patient.id or row.is_deleted:
            raise NotFound(NOT_IN_RECORD)
        if not can_delete(row, actor):
            raise Forbidden(NO_PERMISSION)
    checked = _validate_all(files) if files else []
    written: list[str] = []
    try:
        added = _write(checked, patient, actor, written, intake_record_id, followup_id)
        db.session.flush()
        now = utcnow()
        for row in remove:
            row.is_deleted = True
            row.deleted_at = now
            row.deleted_by = actor.id if actor is not None else None
            audit.record("patient_file_delete", "patient_files", row.id, patient_id=patient.id,
                         details={"mime_type": row.mime_type, "size_bytes": row.size_bytes})
        for row in added:
            audit.record("patient_file_upload", "patient_files", row.id, patient_id=patient.id,
                         details={"mime_type": row.mime_type, "size_bytes": row.size_bytes})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in written:
            _unlink_quietly(path)
        raise
    return added, list(remove)


def delete_file(patient: Patient, file_ref, actor: User | None) -> PatientFile:
    """Soft-delete one file (by id, stored name or API path). The stored file stays on disk,
    restorable by an Admin, until an Admin purges it after FILE_RETENTION_DAYS."""
    if isinstance(file_ref, str) and not STORED_NAME_RE.fullmatch(file_ref) and not file_ref.isdecimal():
        row = resolve_path(patient, file_ref)
    else:
        row = find_file(patient, file_ref)
    if not can_delete(row, actor):
        raise Forbidden(NO_PERMISSION)
    return update(patient, [], [row], actor)[1][0]


def withdrawn(limit: int = 200) -> list[PatientFile]:
    """Deleted files not yet purged, newest deletion first (the Admin's withdrawn-records page)."""
    return list(db.session.execute(select(PatientFile).where(
        PatientFile.is_deleted.is_(True), PatientFile.purged_at.is_(None))
        .order_by(PatientFile.deleted_at.desc(), PatientFile.id.desc()).limit(limit)).scalars())


def _deleted_row(file_id) -> PatientFile:
    row = db.session.get(PatientFile, file_id) if isinstance(file_id, int) else None
    if row is None or not row.is_deleted or row.purged_at is not None:
        raise NotFound("No deleted file with that id")
    return row


def restore_file(file_id: int, actor: User) -> PatientFile:
    """Admin: a deleted scan comes back to the patient's files."""
    records.check(actor, records.RESTORE, records.FILE)
    row = _deleted_row(file_id)
    if not os.path.exists(stored_path(row)):
        raise DomainError("The stored file is missing on disk; it cannot be restored", status=409)
    row.is_deleted, row.deleted_at, row.deleted_by = False, None, None
    audit.record("patient_file_restore", "patient_files", row.id, patient_id=row.patient_id)
    db.session.commit()
    return row


def purge_due(row: PatientFile, now: dt.datetime | None = None) -> dt.datetime:
    """When a deleted file may be purged: FILE_RETENTION_DAYS after its deletion."""
    deleted = row.deleted_at if row.deleted_at.tzinfo else row.deleted_at.replace(tzinfo=dt.timezone.utc)
    return deleted + dt.timedelta(days=current_app.config["FILE_RETENTION_DAYS"])


def purge_file(file_id: int, actor: User) -> PatientFile:
    """Admin: remove a deleted scan from disk for good, once its retention period is over.
    The row stays (who uploaded, deleted and purged it, and when), so the trail is whole."""
    records.check(actor, records.PURGE, records.FILE)
    row = _deleted_row(file_id)
    now = utcnow()
    due = purge_due(row)
    if now < due:
        raise DomainError(f"Deleted files are kept {current_app.config['FILE_RETENTION_DAYS']} days; this one "
                          f"can be purged from {due.date().isoformat()}", status=409)
    row.purged_at = now
    path = stored_path(row)
    audit.record("patient_file_purge", "patient_files", row.id, patient_id=row.patient_id)
    db.session.commit()
    _unlink_quietly(path)
    return row


SWEEP_BATCH = 500


def sweep(older_than: dt.timedelta, dry_run: bool = False) -> list[str]:
    """Remove stored files that no current file row references — left by an upload whose
    process died before its commit, or by a deletion that died after its commit — if they
    were last written before ``older_than`` ago (an upload in progress is never that old).
    Only names this module gives files (``<patient id>/<32 hex>.<ext>``) are considered.
    Returns the removed (or, with ``dry_run``, removable) paths relative to UPLOAD_FOLDER."""
    root = upload_root()
    cutoff = time.time() - older_than.total_seconds()
    candidates: dict[tuple[int, str], str] = {}
    if not os.path.isdir(root):
        return []
    for folder in os.scandir(root):
        if not (folder.is_dir(follow_symlinks=False) and folder.name.isdigit() and len(folder.name) <= 10):
            continue
        for entry in os.scandir(folder.path):
            if (entry.is_file(follow_symlinks=False) and STORED_NAME_RE.fullmatch(entry.name)
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff):
                candidates[(int(folder.name), entry.name)] = entry.path
    names = sorted({name for _pid, name in candidates})
    for i in range(0, len(names), SWEEP_BATCH):
        for pid, name in db.session.execute(
                select(PatientFile.patient_id, PatientFile.stored_name).where(
                    PatientFile.stored_name.in_(names[i:i + SWEEP_BATCH]), PatientFile.purged_at.is_(None))):
            candidates.pop((pid, name), None)
    removed = []
    for (pid, name), path in sorted(candidates.items()):
        if not dry_run:
            _unlink_quietly(path)
        removed.append(f"{pid}/{name}")
    if removed and not dry_run:
        log.warning("removed %d stored file(s) without a file row", len(removed))
    return removed


@dataclass
class FileView:
    file: PatientFile
    uploader_name: str | None
    can_delete: bool

    @property
    def is_image(self) -> bool:
        return self.file.mime_type in IMAGE_TYPES

    @property
    def kind(self) -> str:
        return ALLOWED.get(self.file.mime_type, ("", "File"))[1]

    @property
    def short_kind(self) -> str:
        return ALLOWED.get(self.file.mime_type, (".file", ""))[0].lstrip(".").upper()

    @property
    def size(self) -> str:
        return human_size(self.file.size_bytes)

    @property
    def uploaded_at(self) -> str:
        return _aware(self.file.created_at).astimezone(IST).strftime("%d %b %Y, %H:%M")


@dataclass
class FileListing:
    patient: Patient
    items: list[FileView] = field(default_factory=list)
    can_edit: bool = False

    @property
    def files(self) -> list[PatientFile]:
        return [v.file for v in self.items]


def list_files(patient: Patient, actor: User | None, audit_read: bool = True) -> FileListing:
    """The patient's current files with uploader names and permission flags (audited read)."""
    rows = db.session.execute(
        select(PatientFile, User.name).outerjoin(User, User.id == PatientFile.uploaded_by)
        .where(PatientFile.patient_id == patient.id, PatientFile.is_deleted.is_(False))
        .order_by(PatientFile.created_at.desc(), PatientFile.id.desc())
    ).all()
    items = [FileView(f, name, can_delete(f, actor)) for f, name in rows]
    if audit_read:
        audit.record("patient_files_view", "patient_files", None, patient_id=patient.id,
                     details={"count": len(items)})
        db.session.commit()
    return FileListing(patient, items, can_edit([v.file for v in items], actor))


def open_for_download(patient: Patient, file_id: int, actor: User | None) -> tuple[str, str, str]:
    """(absolute path, MIME type, download name) of one current file; audited."""
    row = find_file(patient, file_id)
    path = stored_path(row)
    if not os.path.isfile(path):
        log.error("stored file missing for patient_files.id=%s", row.id)
        raise NotFound("File not found")
    audit.record("patient_file_download", "patient_files", row.id, patient_id=patient.id)
    db.session.commit()
    return path, row.mime_type, row.original_name


def stats() -> dict:
    """Counts over current (not deleted) files; a patient's files make one record."""
    now = utcnow()
    live = PatientFile.is_deleted.is_(False)
    total_files, patients = db.session.execute(
        select(func.count(PatientFile.id), func.count(func.distinct(PatientFile.patient_id))).where(live)
    ).one()
    month = db.session.execute(select(func.count(PatientFile.id)).where(
        live, PatientFile.created_at >= now - dt.timedelta(days=30))).scalar_one()
    week = db.session.execute(select(func.count(PatientFile.id)).where(
        live, PatientFile.created_at >= now - dt.timedelta(days=7))).scalar_one()
    return {"total_records": int(patients), "patients_with_files": int(patients),
            "total_files": int(total_files), "files_this_month": int(month),
            "files_this_week": int(week)}


# ------------------------------------------------------------------ JSON shapes

def api_path(row: PatientFile) -> str:
    """The file's path in JSON: the authorised API download route."""
    return f"/api/patient-files/{row.patient_id}/download/{row.id}"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _iso(value: dt.datetime | None) -> str | None:
    value = _aware(value)
    return value.isoformat() if value is not None else None


def record_json(patient: Patient, rows: list[PatientFile]) -> dict | None:
    """The contract's one-record-per-patient shape, synthesised from the file rows."""
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: (_aware(r.created_at), r.id))
    uploaders: list[int] = []
    for r in ordered:
        if r.uploaded_by is not None and r.uploaded_by not in uploaders:
            uploaders.append(r.uploaded_by)
    return {
        "id": patient.id,
        "patient_id": patient.id,
        "attachment": [api_path(r) for r in ordered],
        "role": [{"id": uid} for uid in uploaders],
        "created_at": _iso(ordered[0].created_at),
        "updated_at": _iso(max(_aware(r.updated_at or r.created_at) for r in ordered)),
    }


def file_json(row: PatientFile) -> dict:
    return {"id": row.id, "path": api_path(row), "name": row.original_name, "mime_type": row.mime_type,
            "size_bytes": row.size_bytes, "sha256": row.sha256, "uploaded_by": row.uploaded_by,
            "created_at": _iso(row.created_at)}


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


# ------------------------------------------------------------------ timeline

@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The newest files (emrs/timeline.py slots): id, at = created_at, text1 = the file's name,
    text2 = its type, num1 = its size in bytes."""
    return (select(PatientFile.id, PatientFile.created_at.label("at"), PatientFile.original_name.label("text1"),
                   PatientFile.mime_type.label("text2"), PatientFile.size_bytes.label("num1"))
            .where(PatientFile.patient_id == bindparam("patient_id"), PatientFile.is_deleted.is_(False))
            .order_by(PatientFile.created_at.desc(), PatientFile.id.desc()).limit(bindparam("limit")))


def _timeline(patient_id: int):
    download = timeline.url_maker("patients.file_download", "file_id", patient_id=patient_id) \
        if has_request_context() else None

    def entry(r) -> timeline.TimelineEntry:
        return timeline.TimelineEntry(
            kind="file", id=r.id, when=timeline.aware(r.at), title=r.text1,
            summary=f"{ALLOWED.get(r.text2, ('', 'File'))[1]} · {human_size(r.num1)}",
            url=download(r.id) if download else None, badges=["file"])
    return entry


timeline.register("file", timeline_rows, _timeline)

__all__ = ["upload", "update", "list_files", "delete_file", "open_for_download", "stats", "sweep",
           "resolve_path", "find_file", "record_json", "api_path"]
