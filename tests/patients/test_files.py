"""Patient files: content sniffing, the all-or-nothing upload service, permissions,
audit, stats, timeline, and the /patients/<id>/files pages (panel, upload, download, delete)."""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import struct
import time
import zipfile
import zlib

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from emrs import timeline
from emrs.audit.models import AuditLog
from emrs.errors import Forbidden, ValidationError
from emrs.extensions import db
from emrs.patients import files as pf
from emrs.patients.models import PatientFile

from ..factories import patient_row as make_patient

MB = 1024 * 1024


def png(width: int = 2, height: int = 2, rgb=(11, 93, 122)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg() -> bytes:
    # SOI + APP0/JFIF header: enough for a content check (not meant to be displayed).
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    return buf.getvalue()


def gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def webp() -> bytes:
    return b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def doc() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100 + b"This program cannot be run in DOS mode"


def text() -> bytes:
    return "Referral letter — ਪੰਜਾਬੀ, हिन्दी\n".encode()


def upload_parts(*items, field: str = "files") -> list:
    """[(bytes, name), ...] -> the value of a multipart field for the test client."""
    return [(io.BytesIO(data), name) for data, name in items]


def storage(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/octet-stream")


def rows_of(patient, include_deleted=False) -> list[PatientFile]:
    q = select(PatientFile).where(PatientFile.patient_id == patient.id)
    if not include_deleted:
        q = q.where(PatientFile.is_deleted.is_(False))
    return list(db.session.execute(q.order_by(PatientFile.id)).scalars())


def files_on_disk(app, patient) -> list[str]:
    folder = os.path.join(app.config["UPLOAD_FOLDER"], str(patient.id))
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def audit_actions(patient) -> list[str]:
    return [a for (a,) in db.session.execute(
        select(AuditLog.action).where(AuditLog.patient_id == patient.id).order_by(AuditLog.id)).all()]


HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path, monkeypatch):
    """A fresh upload folder per test: the database rolls back, the disk would not."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    return folder


@pytest.fixture
def patient(app):
    return make_patient()


# ------------------------------------------------------------------ content sniffing

@pytest.mark.parametrize("data, mime", [
    (png(), "image/png"), (jpeg(), "image/jpeg"), (gif(), "image/gif"), (webp(), "image/webp"),
    (pdf(), "application/pdf"), (doc(), "application/msword"),
    (docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (text(), "text/plain"), (plain_zip(), "application/zip"), (exe(), "application/x-msdownload"),
    (b"hello\x00world", "application/octet-stream"), (b"\xff\xfe\xfa bad utf8", "application/octet-stream"),
    (b"", "application/x-empty"),
])
def test_type_is_decided_from_content(data, mime):
    assert pf.sniff(io.BytesIO(data), len(data)) == mime


def test_display_name_strips_paths_and_is_limited():
    assert pf.display_name("../../etc/passwd", ".txt") == "passwd"
    assert pf.display_name("C:\\\\Users\\\\x\\\\scan.png", ".png") == "scan.png"
    assert pf.display_name("", ".pdf") == "file.pdf"
    long = pf.display_name("a" * 400 + ".pdf", ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


# ------------------------------------------------------------------ service

def test_upload_stores_random_names_with_detected_extension(app, ctx, patient, users):
    added = pf.upload(patient, [storage(png(), "scan.PNG"), storage(pdf(), "letter.exe"),
                                storage(text(), "notes")], users["resident"])
    assert [r.mime_type for r in added] == ["image/png", "application/pdf", "text/plain"]
    on_disk = files_on_disk(app, patient)
    assert len(on_disk) == 3
    for row in added:
        assert re.fullmatch(r"[0-9a-f]{32}\.(png|pdf|txt)", row.stored_name)
        assert row.stored_name in on_disk
        assert row.uploaded_by == users["resident"].id
        assert row.sha256 and row.size_bytes > 0
    assert added[1].stored_name.endswith(".pdf") and added[1].original_name == "letter.exe"
    with open(os.path.join(app.config["UPLOAD_FOLDER"], str(patient.id), added[0].stored_name), "rb") as fh:
        assert fh.read() == png()


def test_upload_is_all_or_nothing_when_one_file_is_bad(app, ctx, patient, users):
    with pytest.raises(ValidationError) as exc:
        pf.upload(patient, [storage(png(), "a.png"), storage(pdf(), "b.pdf"), storage(exe(), "c.png")],
                  users["pwo"])
    assert exc.value.message.startswith("File type application/x-msdownload is not allowed.")
    assert "image/png" in exc.value.message and "application/pdf" in exc.value.message
    assert rows_of(patient, include_deleted=True) == []
    assert files_on_disk(app, patient) == []


def test_files_written_are_removed_when_the_commit_fails(app, ctx, patient, users, monkeypatch):
    def boom():
        raise RuntimeError("database went away")
    monkeypatch.setattr(db.session, "commit", boom)
    with pytest.raises(RuntimeError):
        pf.upload(patient, [storage(png(), "a.png"), storage(pdf(), "b.pdf")], users["pwo"])
    monkeypatch.undo()
    assert files_on_disk(app, patient) == []
    assert rows_of(patient, include_deleted=True) == []


def test_limits(app, ctx, patient, users):
    with pytest.raises(ValidationError, match="^Too many files. Maximum 20 files allowed.$"):
        pf.upload(patient, [storage(png(), f"{i}.png") for i in range(21)], users["pwo"])
    with pytest.raises(ValidationError, match="^File size exceeds 10MB limit$"):
        pf.upload(patient, [storage(pdf() + b"\0" * (10 * MB + 1 - len(pdf())), "big.pdf")], users["pwo"])
    with pytest.raises(ValidationError, match="^No files uploaded$"):
        pf.upload(patient, [], users["pwo"])
    with pytest.raises(ValidationError, match="text/plain|application/octet-stream"):
        pf.upload(patient, [storage(b"line one\x00line two", "notes.txt")], users["pwo"])
    assert rows_of(patient, include_deleted=True) == [] and files_on_disk(app, patient) == []
    # Exactly 10 MB and exactly 20 files are fine.
    added = pf.upload(patient, [storage(pdf() + b"\0" * (10 * MB - len(pdf())), "ten.pdf")]
                      + [storage(png(), f"{i}.png") for i in range(19)], users["pwo"])
    assert len(added) == 20 and added[0].size_bytes == 10 * MB


def test_delete_rules(app, ctx, patient, users, make_user):
    from emrs.auth.models import FACULTY, RESIDENT
    own = pf.upload(patient, [storage(png(), "mine.png")], users["resident"])[0]
    other_resident = make_user(RESIDENT)
    other_faculty = make_user(FACULTY)
    for actor in (other_resident, other_faculty):
        with pytest.raises(Forbidden, match="^You do not have permission to edit/delete these files"):
            pf.delete_file(patient, own.id, actor)
    listing = pf.list_files(patient, other_resident)
    assert listing.can_edit is False and [v.can_delete for v in listing.items] == [False]
    assert pf.list_files(patient, users["resident"]).can_edit is True
    assert pf.list_files(patient, users["pwo"]).items[0].can_delete is True
    path = pf.stored_path(own)
    assert os.path.exists(path)
    pf.delete_file(patient, own.stored_name, users["resident"])  # by stored name, own file
    assert os.path.exists(path)  # a scan is a record: kept on disk until an Admin purges it
    row = db.session.get(PatientFile, own.id)
    assert row.is_deleted and row.deleted_by == users["resident"].id and row.deleted_at is not None
    assert pf.sweep(dt.timedelta(seconds=0)) == []  # the orphan sweep leaves a deleted, unpurged file alone
    # PWO and Admin may delete anybody's file.
    a, b = pf.upload(patient, [storage(png(), "a.png"), storage(pdf(), "b.pdf")], other_faculty)
    pf.delete_file(patient, a.id, users["pwo"])
    pf.delete_file(patient, b.id, users["admin"])
    assert rows_of(patient) == []


def test_stats_counts(app, ctx, users):
    p1, p2 = make_patient("Stats One"), make_patient("Stats Two")
    make_patient("No Files")
    pf.upload(p1, [storage(png(), "a.png"), storage(pdf(), "b.pdf")], users["pwo"])
    old = pf.upload(p2, [storage(png(), "c.png"), storage(png(), "d.png"), storage(text(), "e.txt")], users["pwo"])
    gone = pf.upload(p2, [storage(png(), "f.png")], users["pwo"])[0]
    pf.delete_file(p2, gone.id, users["pwo"])
    now = dt.datetime.now(dt.timezone.utc)
    old[0].created_at = now - dt.timedelta(days=10)   # this month, not this week
    old[1].created_at = now - dt.timedelta(days=45)   # neither
    db.session.commit()
    assert pf.stats() == {"total_records": 2, "patients_with_files": 2, "total_files": 5,
                          "files_this_month": 4, "files_this_week": 3}


def test_timeline_provider(app, ctx, patient, users):
    assert "file" in timeline.kinds()
    row = pf.upload(patient, [storage(pdf(), "Discharge summary.pdf")], users["faculty"])[0]
    entries = [e for e in timeline.entries(patient.id) if e.kind == "file"]
    assert len(entries) == 1
    e = entries[0]
    assert e.id == row.id and e.title == "Discharge summary.pdf"
    assert e.summary.startswith("PDF document · ") and e.when.tzinfo is not None
    assert e.url == f"/patients/{patient.id}/files/{row.id}"


def test_every_operation_is_audited_with_the_patient(app, ctx, patient, users):
    row = pf.upload(patient, [storage(png(), "a.png")], users["pwo"])[0]
    pf.list_files(patient, users["pwo"])
    pf.open_for_download(patient, row.id, users["pwo"])
    pf.delete_file(patient, row.id, users["pwo"])
    assert audit_actions(patient) == ["patient_file_upload", "patient_files_view",
                                      "patient_file_download", "patient_file_delete"]


# ------------------------------------------------------------------ pages

def test_anonymous_gets_the_login_page_everywhere(client, patient):
    base = f"/patients/{patient.id}/files"
    for method, url in (("get", base), ("post", base), ("get", f"{base}/1"), ("post", f"{base}/1/delete")):
        resp = getattr(client, method)(url)
        assert resp.status_code == 302, (method, url)
        assert resp.headers["Location"].startswith("/login"), (method, url)
    resp = client.get(base, headers=HX)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("key", ["admin", "pwo", "faculty", "resident"])
def test_every_role_sees_the_panel(role_client, patient, key):
    c = role_client(key)
    full = c.get(f"/patients/{patient.id}/files")
    assert full.status_code == 200
    html = full.get_data(as_text=True)
    assert "<html" in html and 'id="patient-files"' in html and "No files yet." in html
    frag = c.get(f"/patients/{patient.id}/files", headers=HX)
    body = frag.get_data(as_text=True)
    assert frag.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith("{#") is False and 'id="patient-files"' in body
    assert '<script src="/static/js/upload.js" defer></script>' in body
    assert 'name="files" multiple' in body and "enctype=\"multipart/form-data\"" in body
    assert "style=" not in body and "<script>" not in body
    assert c.get("/patients/999999/files").status_code == 404


def test_a_boosted_request_gets_the_whole_page_not_the_panel(role_client, patient):
    """hx-boost swaps the whole body: a boosted link to the files wants the page, as any
    other page of the app answers it (emrs/doors.py is_htmx)."""
    c = role_client("pwo")
    resp = c.get(f"/patients/{patient.id}/files", headers={"HX-Request": "true", "HX-Boosted": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" in html and 'id="patient-files"' in html


def test_page_upload_several_files_returns_the_list(app, role_client, patient, users):
    c = role_client("resident")
    resp = c.post(f"/patients/{patient.id}/files", headers=HX, content_type="multipart/form-data",
                  data={"files": upload_parts((png(), "chest scan.png"), (jpeg(), "photo.jpg"), (pdf(), "referral.pdf"))})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = resp.get_data(as_text=True)
    assert 'id="patient-files-list"' in html and "<html" not in html
    assert "3 file(s) uploaded successfully" in html
    for name in ("chest scan.png", "photo.jpg", "referral.pdf"):
        assert name in html
    rows = rows_of(patient)
    assert len(rows) == 3 and len(files_on_disk(app, patient)) == 3
    png_row = next(r for r in rows if r.mime_type == "image/png")
    # Thumbnail through the authorised route; uploader shown; delete allowed for own files.
    assert f'<img src="/patients/{patient.id}/files/{png_row.id}"' in html
    assert users["resident"].name in html
    assert html.count('class="pf-delete"') == 3


def test_page_upload_error_is_422_and_saves_nothing(app, role_client, patient):
    c = role_client("pwo")
    resp = c.post(f"/patients/{patient.id}/files", headers=HX, content_type="multipart/form-data",
                  data={"files": upload_parts((png(), "ok.png"), (exe(), "setup.png"))})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "File type application/x-msdownload is not allowed." in html and "setup.png" in html
    assert "Nothing was saved." in html
    assert rows_of(patient) == [] and files_on_disk(app, patient) == []
    # Without HTMX: the whole page again, with the message.
    resp = c.post(f"/patients/{patient.id}/files", content_type="multipart/form-data",
                  data={"files": upload_parts((b"a\x00b", "notes.txt"))})
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)
    assert "is not allowed" in resp.get_data(as_text=True)
    resp = c.post(f"/patients/{patient.id}/files", headers=HX, data={})
    assert resp.status_code == 422 and "No files uploaded" in resp.get_data(as_text=True)


def test_page_upload_without_htmx_redirects(role_client, patient):
    c = role_client("faculty")
    resp = c.post(f"/patients/{patient.id}/files", content_type="multipart/form-data",
                  data={"files": upload_parts((pdf(), "a.pdf"))})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/patients/{patient.id}/files")
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "1 file(s) uploaded successfully" in page and "a.pdf" in page


def test_page_download(app, ctx, role_client, client, patient, users):
    img, doc_ = pf.upload(patient, [storage(png(), "scan.png"), storage(pdf(), "letter ü.pdf")], users["pwo"])
    url = f"/patients/{patient.id}/files/{img.id}"
    assert client.get(url).status_code == 302  # anonymous
    c = role_client("resident")
    resp = c.get(url)
    assert resp.status_code == 200 and resp.data == png()
    assert resp.mimetype == "image/png"
    assert resp.headers["Content-Disposition"].startswith("inline") and "scan.png" in resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in resp.headers["Cache-Control"]
    resp = c.get(f"/patients/{patient.id}/files/{doc_.id}")
    assert resp.status_code == 200 and resp.data == pdf()
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "UTF-8''letter%20%C3%BC.pdf" in resp.headers["Content-Disposition"]
    # Another patient's id, an unknown file, a deleted file: 404.
    other = make_patient("Other Person")
    assert c.get(f"/patients/{other.id}/files/{img.id}").status_code == 404
    assert c.get(f"/patients/{patient.id}/files/99999999").status_code == 404
    pf.delete_file(patient, img.id, users["pwo"])
    assert c.get(url).status_code == 404
    assert c.get(f"/patients/{patient.id}/files/2147483648").status_code == 404  # beyond int range


def test_page_delete_permissions(app, ctx, role_client, patient, users, make_user):
    mine = pf.upload(patient, [storage(png(), "resident.png")], users["resident"])[0]
    faculty_file = pf.upload(patient, [storage(pdf(), "faculty.pdf")], users["faculty"])[0]
    # Faculty cannot delete the resident's file; the button is not even shown.
    faculty_c = role_client("faculty")  # the faculty user did not upload mine
    resp = faculty_c.post(f"/patients/{patient.id}/files/{mine.id}/delete", headers=HX)
    assert resp.status_code == 403
    assert "You do not have permission to edit/delete these files" in resp.get_data(as_text=True)
    panel = faculty_c.get(f"/patients/{patient.id}/files", headers=HX).get_data(as_text=True)
    assert panel.count('class="pf-delete"') == 1  # only the faculty user's own file
    r = role_client("resident")
    resp = r.post(f"/patients/{patient.id}/files/{faculty_file.id}/delete")
    assert resp.status_code == 302  # no HTMX: flash + redirect, nothing deleted
    assert "You do not have permission" in r.get(resp.headers["Location"]).get_data(as_text=True)
    assert len(rows_of(patient)) == 2
    # Own file: allowed.
    resp = r.post(f"/patients/{patient.id}/files/{mine.id}/delete", headers=HX)
    assert resp.status_code == 200 and "File deleted successfully" in resp.get_data(as_text=True)
    assert "resident.png" not in resp.get_data(as_text=True)
    # PWO may delete anyone's file.
    resp = role_client("pwo").post(f"/patients/{patient.id}/files/{faculty_file.id}/delete", headers=HX)
    assert resp.status_code == 200 and rows_of(patient) == []
    assert len(files_on_disk(app, patient)) == 2  # kept on disk until an Admin purges them
    assert "patient_file_delete" in audit_actions(patient)


def test_admin_deletes_any_file_from_the_page(ctx, role_client, patient, users):
    f = pf.upload(patient, [storage(text(), "n.txt")], users["faculty"])[0]
    resp = role_client("admin").post(f"/patients/{patient.id}/files/{f.id}/delete", headers=HX)
    assert resp.status_code == 200 and rows_of(patient) == []


# ------------------------------------------------------------------ files without a row

def _age(path, minutes: float) -> None:
    when = time.time() - minutes * 60
    os.utime(path, (when, when))


def test_sweep_removes_only_old_files_that_no_current_row_references(app, ctx, patient, users, upload_folder):
    kept = pf.upload(patient, [storage(png(), "kept.png")], users["pwo"])[0]
    deleted = pf.upload(patient, [storage(pdf(), "deleted.pdf")], users["pwo"])[0]
    pf.delete_file(patient, deleted.id, users["pwo"])
    # What a process killed between writing and committing leaves: the file, no row.
    checked = pf._validate_all([storage(text(), "killed.txt"), storage(text(), "killed-just-now.txt")])
    pf._write(checked, patient, users["pwo"], written := [])
    db.session.rollback()
    orphan, fresh = written
    # ... and a file of a purged row whose removal did not happen (killed after the commit).
    # (A deleted but unpurged file is a record kept for restore: the sweep leaves it.)
    deleted.purged_at = deleted.deleted_at
    db.session.commit()
    leftover = os.path.join(upload_folder, str(patient.id), deleted.stored_name)
    with open(leftover, "wb") as out:
        out.write(pdf())
    foreign = upload_folder / str(patient.id) / "readme.txt"  # not a name the app gives: never touched
    foreign.write_text("left by an administrator")
    for path in (pf.stored_path(kept), orphan, leftover, foreign):
        _age(path, 90)
    _age(fresh, 5)  # may still be an upload in progress

    would = pf.sweep(dt.timedelta(minutes=60), dry_run=True)
    assert sorted(would) == sorted(f"{patient.id}/{os.path.basename(p)}" for p in (orphan, leftover))
    assert os.path.exists(orphan) and os.path.exists(leftover)

    assert sorted(pf.sweep(dt.timedelta(minutes=60))) == sorted(would)
    assert sorted(files_on_disk(app, patient)) == sorted([kept.stored_name, os.path.basename(fresh), "readme.txt"])
    assert pf.sweep(dt.timedelta(minutes=60)) == []
    path, mime, name = pf.open_for_download(patient, kept.id, users["pwo"])
    assert open(path, "rb").read() == png() and name == "kept.png"


def test_sweep_command(app, ctx, patient, users):
    pf.upload(patient, [storage(png(), "kept.png")], users["pwo"])
    pf._write(pf._validate_all([storage(text(), "killed.txt")]), patient, users["pwo"], written := [])
    db.session.rollback()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["files", "sweep", "--older-than-minutes", "0", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [f"{patient.id}/{os.path.basename(written[0])}",
                                       "would remove 1 unreferenced file(s) older than 0 minute(s)"]
    assert len(files_on_disk(app, patient)) == 2
    young = runner.invoke(args=["files", "sweep"])  # default: older than 60 minutes
    assert young.output.splitlines() == ["removed 0 unreferenced file(s) older than 60 minute(s)"]
    done = runner.invoke(args=["files", "sweep", "--older-than-minutes", "0"])
    assert done.exit_code == 0 and done.output.splitlines()[-1] == "removed 1 unreferenced file(s) older than 0 minute(s)"
    assert len(files_on_disk(app, patient)) == 1
    bad = runner.invoke(args=["files", "sweep", "--older-than-minutes", "-5"])
    assert bad.exit_code == 2 and "-5" in bad.output


def test_a_deleted_scan_is_kept_restorable_and_purged_only_after_the_retention_period(
        app, patient, users, role_client):
    """Through the pages: a welfare officer deletes a scan; it disappears from the patient's
    files but stays on disk; only an Admin sees it under Withdrawn, restores it, and purges it
    once FILE_RETENTION_DAYS have passed."""
    from emrs.audit.models import AuditLog
    with app.app_context():
        row = pf.upload(patient, [storage(png(), "referral.png")], users["pwo"])[0]
        file_id, path = row.id, pf.stored_path(row)
    pwo, admin, faculty = role_client("pwo"), role_client("admin"), role_client("faculty")
    assert pwo.post(f"/patients/{patient.id}/files/{file_id}/delete").status_code == 302
    assert os.path.exists(path)
    assert "referral.png" not in pwo.get(f"/patients/{patient.id}/files").get_data(as_text=True)
    assert faculty.get("/clinical/withdrawn").status_code == 403
    page = admin.get("/clinical/withdrawn").get_data(as_text=True)
    assert "referral.png" in page and "Restore" in page
    # Too early to purge: refused with the date, the file stays.
    admin.post(f"/clinical/withdrawn/file/{file_id}/purge")
    assert os.path.exists(path)
    assert "can be purged from" in admin.get("/clinical/withdrawn").get_data(as_text=True)
    # Restored: back in the patient's files.
    assert admin.post(f"/clinical/withdrawn/file/{file_id}/restore").status_code == 302
    assert "referral.png" in pwo.get(f"/patients/{patient.id}/files").get_data(as_text=True)
    # Deleted again, and the retention period has passed: the Admin purges it from disk.
    assert pwo.post(f"/patients/{patient.id}/files/{file_id}/delete").status_code == 302
    with app.app_context():
        row = db.session.get(PatientFile, file_id)
        row.deleted_at = row.deleted_at - dt.timedelta(days=app.config["FILE_RETENTION_DAYS"] + 1)
        db.session.commit()
    admin.post(f"/clinical/withdrawn/file/{file_id}/purge")
    assert not os.path.exists(path)
    with app.app_context():
        row = db.session.get(PatientFile, file_id)
        assert row.purged_at is not None and row.is_deleted
        actions = [a for (a,) in db.session.execute(select(AuditLog.action).where(
            AuditLog.entity == "patient_files", AuditLog.entity_id == str(file_id)).order_by(AuditLog.id))]
        assert actions[-4:] == ["patient_file_delete", "patient_file_restore", "patient_file_delete",
                                "patient_file_purge"]
