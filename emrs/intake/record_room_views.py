"""The record room pages: files to fetch for today's clinic, files out of the room,
recent moves, single and bulk moves with a per-file result, the movement history of
one file and the file-status statistics."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import charts
from ..audit import service as audit
from ..auth.guard import principal, safe_next
from ..doors import is_htmx
from ..errors import DomainError
from ..timeutil import today_ist
from . import bp
from . import record_room as room
from .models import INTAKE_FILE_STATUSES

ID = "int(max=2147483647)"


def _ist(iso: str | None) -> str:
    """An ISO timestamp as IST "12 Mar 2026, 10:05" (blank when unknown)."""
    if not iso:
        return ""
    from datetime import datetime
    from ..timeutil import IST
    return datetime.fromisoformat(iso).astimezone(IST).strftime("%d %b %Y, %H:%M")


def _with_when(rows: list[dict], key: str) -> list[dict]:
    for r in rows:
        r["when"] = _ist(r.get(key))
    return rows


def _back():
    return safe_next(request.form.get("next")) or url_for("intake.record_room")


@bp.get("/record-room", endpoint="record_room")
def record_room():
    today = today_ist()
    audit.record_now("record_room_view", "adl_files")
    return render_template("intake/record_room.html", today=today, to_retrieve=room.to_retrieve(today),
                           out=_with_when(room.active_files(), "retrieved_at"),
                           created=room.created_files(), recent=_with_when(room.recent_movements(15), "movement_date"))


def _bulk(move, verb: str):
    raw = request.form.getlist("file_ids")
    if not raw:
        flash("Choose at least one file.", "warning")
        return redirect(url_for("intake.record_room"))
    try:
        done, errors = move(raw, principal())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("intake.record_room"))
    rows = [{"ok": True, "id": r.id, "text": f"{r.adl_no} — {verb}"} for r in done]
    details = {d["id"]: d for d in room.record_api_dicts(done)}
    for row in rows:
        d = details.get(row["id"], {})
        row["patient_name"], row["cr_no"] = d.get("patient_name"), d.get("cr_no")
    rows += [{"ok": False, "text": e} for e in errors]
    return render_template("intake/record_room_result.html", verb=verb, rows=rows, done=len(done),
                           failed=len(errors))


@bp.post("/record-room/bulk-retrieve", endpoint="bulk_retrieve")
def bulk_retrieve():
    return _bulk(room.bulk_retrieve, "retrieved")


@bp.post("/record-room/bulk-return", endpoint="bulk_return")
def bulk_return():
    return _bulk(room.bulk_return, "returned")


def _single(record_id: int, action):
    try:
        record = room.get_for_move(record_id)
    except DomainError:
        abort(404)
    try:
        message = action(record)
    except DomainError as exc:
        flash(f"{record.adl_no}: {exc.message}", "error")
    else:
        flash(message, "success")
    return redirect(_back())


@bp.post(f"/<{ID}:record_id>/store", endpoint="file_store")
def file_store(record_id: int):
    def act(record):
        room.store(record, principal(), location=request.form.get("location"), note=request.form.get("note"))
        return f"{record.adl_no} is now in the record room ({record.physical_file_location or room.RECORD_ROOM})."
    return _single(record_id, act)


@bp.post(f"/<{ID}:record_id>/retrieve", endpoint="file_retrieve")
def file_retrieve(record_id: int):
    def act(record):
        room.retrieve(record, principal(), note=request.form.get("note"))
        return f"{record.adl_no} retrieved from the record room."
    return _single(record_id, act)


@bp.post(f"/<{ID}:record_id>/return", endpoint="file_return")
def file_return(record_id: int):
    def act(record):
        room.return_file(record, principal(), note=request.form.get("note"))
        return f"{record.adl_no} returned to the record room."
    return _single(record_id, act)


@bp.post(f"/<{ID}:record_id>/archive", endpoint="file_archive")
def file_archive(record_id: int):
    def act(record):
        if request.form.get("confirm") != "yes":
            raise DomainError("Tick the confirmation to archive the file")
        room.archive(record, principal(), note=request.form.get("note"))
        return f"{record.adl_no} archived."
    return _single(record_id, act)


@bp.get(f"/<{ID}:record_id>/movements", endpoint="movements")
def movements(record_id: int):
    """The file's movement history: a fragment for HTMX (the intake record page), a
    whole page with the file's actions otherwise."""
    try:
        record = room.get_for_move(record_id)
    except DomainError:
        abort(404)
    audit.record_now("intake_movements_view", "adl_files", record.id, patient_id=record.patient_id)
    info = room.record_api_dict(record, principal())
    history = _with_when(room.movement_history(record), "movement_date")
    if is_htmx():
        return render_template("intake/_movements.html", record=record, info=info, history=history, fragment=True)
    return render_template("intake/record_room_file.html", record=record, info=info, history=history)


@bp.get("/stats", endpoint="stats")
def stats():
    counts = {d["file_status"]: d["count"] for d in room.status_stats()}
    shown = [s for s in INTAKE_FILE_STATUSES if s != "active" or counts.get(s)]
    series = [(s.capitalize(), counts.get(s, 0)) for s in shown]  # short labels fit the chart's legend
    total = sum(counts.values())
    chart = charts.donut_or_bars(series, title="Intake files by status", chart_id="chart-file-status")
    return render_template("intake/stats.html", series=series, total=total, chart=chart,
                           rows=[(s, room.STATUS_LABELS[s], counts.get(s, 0)) for s in shown])
