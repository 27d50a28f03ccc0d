"""Patient files pages: the files panel (upload + list), upload, authorised download,
delete. Thin: parse the request, call patients.files, render the fragment or page.

The panel is a stand-alone fragment (container ``#patient-files``) that any page can
load with ``hx-get="/patients/<id>/files"``.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from ..auth.guard import principal
from ..doors import is_htmx, page_error
from ..errors import DomainError, NotFound, ValidationError
from ..submission import once_per_submission
from . import bp
from . import files as files_service
from .reading import get_patient

ID = "int(min=1, max=2147483647)"


def _messages(exc: DomainError) -> list[str]:
    out = [exc.message]
    if isinstance(exc, ValidationError) and exc.errors:
        names = [str(e.get("value")) for e in exc.errors if e.get("value")]
        if names:
            out = [f"{', '.join(names)}: {exc.message}"]
    return out


def _patient(patient_id: int):
    try:
        return get_patient(patient_id, audit_action=None)
    except NotFound:
        abort(404)


def _render_list(listing, status: int = 200, message: str | None = None):
    return render_template("patients/files/_list.html", listing=listing, patient=listing.patient,
                           message=message), status


def _error_fragment(messages: list[str], status: int):
    return render_template("patients/files/_error.html", errors=messages), status


@bp.get(f"/<{ID}:patient_id>/files", endpoint="files")
def files(patient_id: int):
    patient = _patient(patient_id)
    listing = files_service.list_files(patient, principal())
    raw = request.args.get("intake", "")
    ctx = dict(listing=listing, patient=patient, accept=files_service.ACCEPT,
               intake_record_id=int(raw) if raw.isdecimal() and len(raw) < 10 else None,
               max_files=files_service.MAX_FILES, max_size=files_service.MAX_FILE_SIZE)
    if is_htmx():
        return render_template("patients/files/_panel.html", **ctx)
    return render_template("patients/files/page.html", **ctx)


@bp.post(f"/<{ID}:patient_id>/files", endpoint="files_upload")
@once_per_submission  # the same upload sent twice stores the files once
def files_upload(patient_id: int):
    patient = _patient(patient_id)
    actor = principal()
    storages = request.files.getlist("files")
    try:
        intake_id = files_service.check_intake_record(patient, request.form.get("intake_record_id"))
        added = files_service.upload(patient, storages, actor, intake_record_id=intake_id)
    except DomainError as exc:
        if is_htmx():
            return _error_fragment(_messages(exc), 422 if exc.status == 400 else exc.status)
        listing = files_service.list_files(patient, actor, audit_read=False)
        return render_template("patients/files/page.html", listing=listing, patient=patient,
                               accept=files_service.ACCEPT, max_files=files_service.MAX_FILES,
                               max_size=files_service.MAX_FILE_SIZE, errors=_messages(exc)), \
            (422 if exc.status == 400 else exc.status)
    message = f"{len(added)} file(s) uploaded successfully"
    if is_htmx():
        listing = files_service.list_files(patient, actor, audit_read=False)
        return _render_list(listing, message=message)
    flash(message, "success")
    return redirect(url_for("patients.files", patient_id=patient.id))


@bp.get(f"/<{ID}:patient_id>/files/<{ID}:file_id>", endpoint="file_download")
def file_download(patient_id: int, file_id: int):
    patient = _patient(patient_id)
    try:
        path, mime, name = files_service.open_for_download(patient, file_id, principal())
    except DomainError as exc:
        return page_error("This file does not exist or was deleted.", exc.status, "File not found")
    return download_response(path, mime, name)


def download_response(path: str, mime: str, name: str):
    """The stored file: images inline, everything else as an attachment; never sniffed."""
    inline = mime in files_service.IMAGE_TYPES
    resp = send_file(path, mimetype=("text/plain; charset=utf-8" if mime == "text/plain" else mime),
                     as_attachment=not inline, download_name=name, max_age=0, etag=False,
                     conditional=False)
    from ..downloads import content_disposition
    resp.headers["Content-Disposition"] = content_disposition(name, inline=inline)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post(f"/<{ID}:patient_id>/files/<{ID}:file_id>/delete", endpoint="file_delete")
def file_delete(patient_id: int, file_id: int):
    patient = _patient(patient_id)
    actor = principal()
    try:
        files_service.delete_file(patient, file_id, actor)
    except DomainError as exc:
        if is_htmx():
            return _error_fragment([exc.message], exc.status)
        flash(exc.message, "error")
        return redirect(url_for("patients.files", patient_id=patient.id))
    if is_htmx():
        listing = files_service.list_files(patient, actor, audit_read=False)
        return _render_list(listing, message="File deleted successfully")
    flash("File deleted successfully", "success")
    return redirect(url_for("patients.files", patient_id=patient.id))
