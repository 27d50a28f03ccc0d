"""JSON API for patient files: /api/patient-files (api-contract.md §7) and the
/api/patients/.../files aliases (§5): envelopes, messages, limits, content checks,
path safety, record-level permissions, authorised download, stats, audit."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import FACULTY, RESIDENT
from emrs.extensions import db
from emrs.patients.models import PatientFile

from ..factories import patient_row as make_patient
from ..patients.test_files import (MB, docx, exe, files_on_disk, gif, jpeg, pdf, png,
                                   text, upload_parts, webp)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PATH_RE = r"/api/patient-files/{pid}/download/\d+"


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path, monkeypatch):
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    return folder


@pytest.fixture
def patient(app):
    return make_patient("Harjit Singh")


@pytest.fixture
def auth(users, bearer):
    cache = {}

    def _headers(key):
        if key not in cache:
            cache[key] = bearer(users[key]) if isinstance(key, str) else bearer(key)
        return cache[key]
    return _headers


def create(client, headers, patient_id, *items, field="files", extra=None):
    data = {"patient_id": str(patient_id), field: upload_parts(*items)}
    data.update(extra or {})
    return client.post("/api/patient-files/create", headers=headers, data=data,
                       content_type="multipart/form-data")


def error(resp, status, message=None):
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    body = resp.get_json()
    assert body["success"] is False
    if message is not None:
        assert body["message"] == message, body
    return body


def live_rows(patient):
    return list(db.session.execute(select(PatientFile).where(
        PatientFile.patient_id == patient.id, PatientFile.is_deleted.is_(False)).order_by(PatientFile.id)).scalars())


# ------------------------------------------------------------------ create

def test_create_several_files(client, auth, patient, users):
    resp = create(client, auth("resident"), patient.id, (png(), "scan.png"), (jpeg(), "photo.jpg"),
                  (pdf(), "letter.pdf"), (docx(), "report.docx"), (gif(), "a.gif"), (webp(), "b.webp"),
                  (text(), "notes.txt"))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True and body["message"] == "7 file(s) uploaded successfully"
    data = body["data"]
    rows = live_rows(patient)
    assert len(rows) == 7
    assert data["files"] == [f"/api/patient-files/{patient.id}/download/{r.id}" for r in rows]
    rec = data["record"]
    assert set(rec) == {"id", "patient_id", "attachment", "role", "created_at", "updated_at"}
    assert rec["patient_id"] == patient.id and rec["attachment"] == data["files"]
    assert rec["role"] == [{"id": users["resident"].id}]
    dt.datetime.fromisoformat(rec["created_at"])
    assert [r.mime_type for r in rows][:4] == ["image/png", "image/jpeg", "application/pdf",
                                               "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]


def test_create_with_attachments_field_and_alias(client, auth, patient):
    resp = create(client, auth("pwo"), patient.id, (pdf(), "a.pdf"), field="attachments[]")
    assert resp.status_code == 201 and resp.get_json()["message"] == "1 file(s) uploaded successfully"
    resp = client.post("/api/patients/files/create", headers=auth("pwo"), content_type="multipart/form-data",
                       data={"patient_id": str(patient.id), "files": upload_parts((png(), "b.png"))})
    assert resp.status_code == 201
    resp = client.post(f"/api/patients/{patient.id}/files", headers=auth("pwo"), content_type="multipart/form-data",
                       data={"files": upload_parts((png(), "c.png"), (png(), "d.png"))})
    assert resp.status_code == 201 and resp.get_json()["message"] == "2 file(s) uploaded successfully"
    assert len(live_rows(patient)) == 4


def test_create_input_errors(client, auth, patient):
    h = auth("faculty")
    error(create(client, h, patient.id, (png(), "a.png"), field="photo"), 400,
          'Unexpected file field name. Use "files" or "attachments[]" as the field name.')
    error(client.post("/api/patient-files/create", headers=h, content_type="multipart/form-data",
                      data={"patient_id": str(patient.id)}), 400, "No files uploaded")
    for bad in ("abc", "0", "-3", "1.5", ""):
        error(create(client, h, bad, (png(), "a.png")), 400, "Invalid patient ID format")
    error(create(client, h, 99999999, (png(), "a.png")), 404, "Patient not found")
    assert live_rows(patient) == []


def test_limits_and_content_checks(app, client, auth, patient):
    h = auth("pwo")
    error(create(client, h, patient.id, *[(png(), f"{i}.png") for i in range(21)]), 400,
          "Too many files. Maximum 20 files allowed.")
    big = pdf() + b"\0" * (10 * MB + 1 - len(pdf()))
    error(create(client, h, patient.id, (png(), "ok.png"), (big, "big.pdf")), 400, "File size exceeds 10MB limit")
    body = error(create(client, h, patient.id, (exe(), "holiday.png")), 400)
    assert body["message"].startswith("File type application/x-msdownload is not allowed.")
    assert "image/jpeg" in body["message"] and "text/plain" in body["message"]
    body = error(create(client, h, patient.id, (b"plain text\x00with NUL", "notes.txt")), 400)
    assert body["message"].startswith("File type application/octet-stream is not allowed.")
    # One bad file among good ones: nothing kept, in the database or on disk.
    error(create(client, h, patient.id, (png(), "a.png"), (pdf(), "b.pdf"), (exe(), "c.pdf")), 400)
    assert live_rows(patient) == [] and files_on_disk(app, patient) == []
    assert create(client, h, patient.id, *[(png(), f"{i}.png") for i in range(20)]).status_code == 201


# ------------------------------------------------------------------ read

def test_get_files_and_can_edit(client, auth, patient, users, make_user):
    h_res = auth("resident")
    empty = client.get(f"/api/patient-files/{patient.id}", headers=h_res)
    assert empty.status_code == 200
    assert empty.get_json()["data"] == {"patient_id": patient.id, "files": [], "record": None,
                                        "can_edit": False, "file_details": []}
    create(client, h_res, patient.id, (png(), "a.png"), (pdf(), "b.pdf"))
    create(client, auth("faculty"), patient.id, (text(), "c.txt"))
    data = client.get(f"/api/patient-files/{patient.id}", headers=h_res).get_json()["data"]
    assert data["patient_id"] == patient.id and len(data["files"]) == 3 and data["can_edit"] is True
    assert data["record"]["attachment"] == data["files"]
    assert data["record"]["role"] == [{"id": users["resident"].id}, {"id": users["faculty"].id}]
    assert [d["name"] for d in data["file_details"]] == ["a.png", "b.pdf", "c.txt"]
    other = make_user(RESIDENT)
    assert client.get(f"/api/patient-files/{patient.id}", headers=auth(other)).get_json()["data"]["can_edit"] is False
    assert client.get(f"/api/patient-files/{patient.id}", headers=auth("pwo")).get_json()["data"]["can_edit"] is True
    alias = client.get(f"/api/patients/files/{patient.id}", headers=h_res).get_json()["data"]
    assert alias["files"] == data["files"]
    short = client.get(f"/api/patients/{patient.id}/files", headers=h_res).get_json()
    assert short["success"] is True and short["data"] == {"files": data["files"], "count": 3}


def test_get_errors(client, auth):
    h = auth("admin")
    for bad in ("abc", "0", "-1", "99999999999"):
        body = error(client.get(f"/api/patient-files/{bad}", headers=h), 400, "Validation failed")
        assert body["errors"][0]["location"] == "params"
    error(client.get("/api/patient-files/99999999", headers=h), 404, "Patient not found")
    error(client.get("/api/patients/abc/files", headers=h), 400, "Validation failed")


def test_requires_a_token(client, patient):
    for method, url in (("get", f"/api/patient-files/{patient.id}"), ("post", "/api/patient-files/create"),
                        ("get", "/api/patient-files/stats"), ("get", f"/api/patient-files/{patient.id}/download/1"),
                        ("delete", f"/api/patient-files/delete/{patient.id}/x"),
                        ("put", f"/api/patient-files/update/{patient.id}"), ("get", f"/api/patients/{patient.id}/files")):
        error(getattr(client, method)(url), 401, "Access token required")


def test_download_with_token(client, auth, patient):
    resp = create(client, auth("pwo"), patient.id, (png(), "scan.png"), (pdf(), "letter.pdf"))
    img_path, pdf_path = resp.get_json()["data"]["files"]
    assert client.get(img_path).status_code == 401
    r = client.get(img_path, headers=auth("resident"))
    assert r.status_code == 200 and r.data == png() and r.mimetype == "image/png"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.get(pdf_path, headers=auth("faculty"))
    assert r.status_code == 200 and r.data == pdf()
    assert r.headers["Content-Disposition"] == "attachment; filename=\"letter.pdf\"; filename*=UTF-8''letter.pdf"
    other = make_patient("Someone Else")
    fid = img_path.rsplit("/", 1)[1]
    error(client.get(f"/api/patient-files/{other.id}/download/{fid}", headers=auth("pwo")), 404,
          "File not found in patient record")
    error(client.get(f"/api/patient-files/{patient.id}/download/abc", headers=auth("pwo")), 400, "Validation failed")


# ------------------------------------------------------------------ stats

def test_stats_route_is_not_shadowed(client, auth, users):
    p1, p2 = make_patient("A One"), make_patient("B Two")
    create(client, auth("pwo"), p1.id, (png(), "a.png"), (pdf(), "b.pdf"))
    create(client, auth("pwo"), p2.id, (png(), "c.png"))
    row = db.session.execute(select(PatientFile).where(PatientFile.patient_id == p2.id)).scalar_one()
    row.created_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)
    db.session.commit()
    resp = client.get("/api/patient-files/stats", headers=auth("resident"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"success": True, "data": {"stats": {
        "total_records": 2, "patients_with_files": 2, "total_files": 3,
        "files_this_month": 3, "files_this_week": 2}}}


# ------------------------------------------------------------------ update

def test_update_adds_and_removes(client, auth, patient):
    h = auth("pwo")
    paths = create(client, h, patient.id, (png(), "a.png"), (pdf(), "b.pdf"), (text(), "c.txt"),
                   (png(), "d.png")).get_json()["data"]["files"]
    # JSON-string form plus a new file.
    resp = client.put(f"/api/patient-files/update/{patient.id}", headers=h, content_type="multipart/form-data",
                      data={"files_to_remove": json.dumps([paths[0]]), "files": upload_parts((jpeg(), "e.jpg"))})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "Files updated successfully"
    assert paths[0] not in body["data"]["files"] and len(body["data"]["files"]) == 4
    assert body["data"]["record"]["attachment"] == body["data"]["files"]
    # Repeated files_to_remove[] (the alias route).
    resp = client.put(f"/api/patients/files/update/{patient.id}", headers=h, content_type="multipart/form-data",
                      data={"files_to_remove[]": [paths[1], paths[2]]})
    assert resp.status_code == 200 and len(resp.get_json()["data"]["files"]) == 2
    # A JSON array.
    resp = client.put(f"/api/patient-files/update/{patient.id}", headers=h, json={"files_to_remove": [paths[3]]})
    assert resp.status_code == 200 and len(resp.get_json()["data"]["files"]) == 1
    error(client.put(f"/api/patient-files/update/{patient.id}", headers=h, json={}), 400, "No files to update")
    error(client.put(f"/api/patient-files/update/{patient.id}", headers=h, json={"files_to_remove": ["../x"]}),
          400, "Invalid file path")
    error(client.put(f"/api/patient-files/update/{patient.id}", headers=h, json={"files_to_remove": [paths[0]]}),
          404, "File not found in patient record")


def test_update_forbidden_for_another_doctors_file(client, auth, patient, make_user):
    paths = create(client, auth("resident"), patient.id, (png(), "a.png")).get_json()["data"]["files"]
    for user in (make_user(RESIDENT), make_user(FACULTY)):
        resp = client.put(f"/api/patient-files/update/{patient.id}", headers=auth(user),
                          content_type="multipart/form-data",
                          data={"files_to_remove": paths[0], "files": upload_parts((pdf(), "new.pdf"))})
        error(resp, 403, "You do not have permission to edit/delete these files. "
                         "You can only edit/delete files you uploaded.")
    assert len(live_rows(patient)) == 1  # nothing added, nothing removed
    # A doctor may still add files to the record.
    resp = client.put(f"/api/patient-files/update/{patient.id}", headers=auth(make_user(FACULTY)),
                      content_type="multipart/form-data", data={"files": upload_parts((pdf(), "new.pdf"))})
    assert resp.status_code == 200 and len(resp.get_json()["data"]["files"]) == 2


# ------------------------------------------------------------------ delete

def test_delete_by_path(app, client, auth, patient):
    h = auth("resident")
    paths = create(client, h, patient.id, (png(), "a.png"), (pdf(), "b.pdf")).get_json()["data"]["files"]
    assert len(files_on_disk(app, patient)) == 2
    rows = live_rows(patient)
    resp = client.delete(f"/api/patient-files/delete/{patient.id}/{quote(paths[0], safe='')}", headers=h)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "File deleted successfully" and body["data"]["files"] == [paths[1]]
    assert len(live_rows(patient)) == 1
    assert len(files_on_disk(app, patient)) == 2  # kept on disk, restorable, until an Admin purges it
    # Again: gone.
    error(client.delete(f"/api/patient-files/delete/{patient.id}/{quote(paths[0], safe='')}", headers=h),
          404, "File not found in patient record")
    # Unencoded path and the alias route.
    resp = client.delete(f"/api/patients/files/delete/{patient.id}{paths[1]}", headers=h)
    assert resp.status_code == 200 and resp.get_json()["data"]["files"] == []
    assert live_rows(patient) == [] and len(files_on_disk(app, patient)) == 2
    # A deleted file is not served.
    assert client.get(f"/api/patient-files/{patient.id}/download/{rows[0].id}", headers=h).status_code == 404


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%252e%252e%252fetc",
                                 "%2Fetc%2Fpasswd", "..\\x", "..%5C..%5Cwindows", "abc%00.png",
                                 "uploads/1/x.png", "C:%5Cboot.ini"])
def test_delete_refuses_path_like_input(app, client, auth, patient, bad):
    h = auth("admin")
    paths = create(client, h, patient.id, (png(), "a.png")).get_json()["data"]["files"]
    for prefix in ("/api/patient-files/delete", "/api/patients/files/delete"):
        resp = client.delete(f"{prefix}/{patient.id}/{bad}", headers=h)
        error(resp, 400, "Invalid file path")
    assert len(live_rows(patient)) == 1 and len(files_on_disk(app, patient)) == 1
    assert paths


def test_delete_unknown_and_other_patients_paths(client, auth, patient):
    h = auth("pwo")
    other = make_patient("Other")
    other_path = create(client, h, other.id, (png(), "o.png")).get_json()["data"]["files"][0]
    create(client, h, patient.id, (png(), "p.png"))
    error(client.delete(f"/api/patient-files/delete/{patient.id}/{quote(other_path, safe='')}", headers=h),
          404, "File not found in patient record")
    error(client.delete(f"/api/patient-files/delete/{patient.id}/nothing.png", headers=h), 404,
          "File not found in patient record")
    error(client.delete(f"/api/patient-files/delete/abc/nothing.png", headers=h), 400, "Validation failed")
    error(client.delete(f"/api/patient-files/delete/99999999/nothing.png", headers=h), 404, "Patient not found")
    assert len(live_rows(other)) == 1


def test_delete_permissions(client, auth, patient, make_user):
    paths = create(client, auth("faculty"), patient.id, (png(), "a.png"), (pdf(), "b.pdf"),
                   (text(), "c.txt")).get_json()["data"]["files"]
    for user in (make_user(RESIDENT), make_user(FACULTY)):
        error(client.delete(f"/api/patient-files/delete/{patient.id}/{quote(paths[0], safe='')}", headers=auth(user)),
              403, "You do not have permission to edit/delete these files. You can only edit/delete files you uploaded.")
        fid = paths[0].rsplit("/", 1)[1]
        error(client.delete(f"/api/patients/{patient.id}/files/{fid}", headers=auth(user)), 403)
    assert len(live_rows(patient)) == 3
    assert client.delete(f"/api/patient-files/delete/{patient.id}/{quote(paths[0], safe='')}",
                         headers=auth("pwo")).status_code == 200
    fid = paths[1].rsplit("/", 1)[1]
    resp = client.delete(f"/api/patients/{patient.id}/files/{fid}", headers=auth("admin"))
    assert resp.status_code == 200 and resp.get_json()["data"]["files"] == [paths[2]]
    # The uploader removes their own file by stored name.
    stored = live_rows(patient)[0].stored_name
    assert client.delete(f"/api/patients/{patient.id}/files/{stored}", headers=auth("faculty")).status_code == 200
    assert live_rows(patient) == []
    error(client.delete(f"/api/patients/{patient.id}/files/..%2Fx", headers=auth("faculty")), 400)


# ------------------------------------------------------------------ audit

def test_api_operations_write_audit_rows(client, auth, patient, users):
    h = auth("pwo")
    paths = create(client, h, patient.id, (png(), "a.png")).get_json()["data"]["files"]
    client.get(f"/api/patient-files/{patient.id}", headers=h)
    client.get(paths[0], headers=h)
    client.delete(f"/api/patient-files/delete/{patient.id}/{quote(paths[0], safe='')}", headers=h)
    rows = db.session.execute(select(AuditLog).where(AuditLog.patient_id == patient.id).order_by(AuditLog.id)).scalars().all()
    assert [r.action for r in rows] == ["patient_file_upload", "patient_files_view", "patient_file_download",
                                        "patient_file_delete"]
    assert {r.user_id for r in rows} == {users["pwo"].id}
    assert all(r.entity == "patient_files" for r in rows)
