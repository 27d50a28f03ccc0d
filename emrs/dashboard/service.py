"""Figures for the dashboard, counted from the database (zero is a real figure).

``figures`` is today's strip (registered today, visits waiting, files out); ``overview`` is
the role's dashboard (cards, charts) of ``GET /api/dashboard`` and the home page. Each card
names the list it counts (an endpoint and its query), so the page links every figure to it.
"""
from __future__ import annotations

import calendar
import datetime as dt

from sqlalchemy import func, literal_column, select

from ..assessments import service as assessments
from ..auth import records
from ..auth.models import ADMIN, FACULTY, PWO, RESIDENT, SENIOR, User
from ..auth.permissions import OWN_AND_ROOM, list_scope
from ..errors import ValidationError, field_error
from ..extensions import db
from ..intake.models import IntakeRecord
from ..opd import referrals, rooms
from ..opd.models import Room
from ..patients import reading
from ..patients.models import OPEN_VISIT_STATUSES, Patient, PatientVisit
from ..patients.stats import AGE_GROUPS, NOT_RECORDED, SEX_LABELS
from ..querying import date_filters
from ..timeutil import IST, ist_day_bounds_utc, today_ist


def figures(user=None) -> dict:
    today = today_ist()
    start, end = ist_day_bounds_utc(today)
    registered = db.session.execute(
        select(func.count(Patient.id)).where(Patient.created_at >= start, Patient.created_at < end)
    ).scalar_one()
    waiting_q = select(func.count(PatientVisit.id)).where(
        PatientVisit.visit_date == today, PatientVisit.visit_status.in_(OPEN_VISIT_STATUSES))
    waiting = db.session.execute(waiting_q).scalar_one()
    mine = None
    if user is not None and user.is_doctor:
        mine = db.session.execute(waiting_q.where(PatientVisit.assigned_doctor_id == user.id)).scalar_one()
    files_out = db.session.execute(
        select(func.count(IntakeRecord.id)).where(IntakeRecord.file_status == "retrieved",
                                                  IntakeRecord.is_active.is_(True))
    ).scalar_one()
    return {"date": today, "registered_today": registered, "visits_waiting": waiting,
            "my_visits_waiting": mine, "files_out": files_out}


# ------------------------------------------------------------------ the role's dashboard

JUNIOR_RESIDENT, SENIOR_RESIDENT = "Junior Resident", "Senior Resident"
TITLES = {ADMIN: "Admin Dashboard", FACULTY: "Faculty Dashboard", SENIOR_RESIDENT: "Senior Resident Dashboard",
          JUNIOR_RESIDENT: "Junior Resident Dashboard", PWO: "PWO Dashboard"}


def kind_of(user: User) -> str:
    """The dashboard a user gets: their role, Residents by grade (no grade counts as Junior)."""
    if user.role == RESIDENT:
        return SENIOR_RESIDENT if user.grade == SENIOR else JUNIOR_RESIDENT
    return user.role


PATIENT_TYPES = ("all", "adult", "child")
REFERRED = ("all", "referred", "non_referred")
STATE_MAX = 60  # as the patients list's state filter
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _flag(value, name: str, errors: list) -> bool:
    """A boolean query parameter (true/false, 1/0, yes/no; absent or empty is false)."""
    raw = (value or "").strip().lower()
    if raw in TRUE:
        return True
    if raw and raw not in FALSE:
        errors.append(field_error(name, f"{name} must be true or false", raw[:20], "query"))
    return False


def parse_filters(args) -> dict:
    """Optional filters of the API and page (the original's, later-features.md §4):
    start_date, end_date (registration date), sex (or gender), room, patient_type
    (all|adult|child), state, doctor_id, referred (all|referred|non_referred, or the
    referred_only / non_referred_only flags), assigned_only / unassigned_only. Defaults
    ("all", false) are left out, so ``filters`` holds only what narrows the figures."""
    out, errors = {}, []
    date_filters(args, out, errors, keys=("start_date", "end_date"))
    sex = (args.get("sex") or args.get("gender") or "").strip()
    if sex:
        code = {"male": "M", "female": "F", "other": "Other", "m": "M", "f": "F"}.get(sex.lower(), sex)
        if code in ("M", "F", "Other"):
            out["sex"] = code
        else:
            errors.append(field_error("sex", "sex must be M, F or Other", sex[:20], "query"))
    room = (args.get("room") or "").strip()
    if room:
        found = rooms.room_by_number(room) if len(room) <= rooms.ROOM_NUMBER_MAX else None
        if found is None:
            errors.append(field_error("room", "No such room", room[:20], "query"))
        else:
            out["room"] = found
    kind = (args.get("patient_type") or "").strip().lower()
    if kind and kind not in PATIENT_TYPES:
        errors.append(field_error("patient_type", "patient_type must be all, adult or child", kind[:20], "query"))
    elif kind and kind != "all":
        out["patient_type"] = kind
    state = (args.get("state") or "").strip()
    if len(state) > STATE_MAX:
        errors.append(field_error("state", f"state must be at most {STATE_MAX} characters", state[:20], "query"))
    elif state:
        out["state"] = state
    doctor = (args.get("doctor_id") or "").strip()
    if doctor:
        if not (doctor.isascii() and doctor.isdigit() and len(doctor) < 10 and int(doctor) > 0):
            errors.append(field_error("doctor_id", "doctor_id must be a positive integer", doctor[:20], "query"))
        elif db.session.get(User, int(doctor)) is None:
            errors.append(field_error("doctor_id", "No such doctor", doctor[:20], "query"))
        else:
            out["doctor_id"] = int(doctor)
    referred = (args.get("referred") or "").strip().lower()
    if referred and referred not in REFERRED:
        errors.append(field_error("referred", "referred must be all, referred or non_referred", referred[:20],
                                  "query"))
        referred = ""
    wanted = {r for r, flag in (("referred", _flag(args.get("referred_only"), "referred_only", errors)),
                                ("non_referred", _flag(args.get("non_referred_only"), "non_referred_only", errors)))
              if flag}
    if referred and referred != "all":
        wanted.add(referred)
    if len(wanted) > 1:
        errors.append(field_error("referred", "referred and non_referred exclude each other", None, "query"))
    elif wanted:
        out["referred"] = wanted.pop()
    assigned = _flag(args.get("assigned_only"), "assigned_only", errors)
    unassigned = _flag(args.get("unassigned_only"), "unassigned_only", errors)
    if assigned and unassigned:
        errors.append(field_error("unassigned_only", "assigned_only and unassigned_only exclude each other", None,
                                  "query"))
    elif assigned or unassigned:
        out["assigned_only" if assigned else "unassigned_only"] = True
    if "start_date" in out and "end_date" in out and out["start_date"] > out["end_date"]:
        errors.append(field_error("end_date", "end_date must not be before start_date", None, "query"))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return out


def shown_filters(filters: dict) -> dict:
    """The filters as the API echoes them and as a query string carries them again: dates
    ISO, the room by its number, the rest as parsed."""
    return {k: (v.isoformat() if isinstance(v, dt.date) else v.room_number if isinstance(v, Room) else v)
            for k, v in filters.items()}


def _scope(user: User):
    """The condition on Patient for a Junior Resident's own figures (the one rule:
    ``opd.queue.own_patients``). None for everyone else (the department)."""
    if list_scope(user) != OWN_AND_ROOM:
        return None
    from ..opd import queue
    return queue.own_patients(user)


def _patients(user: User | None, filters: dict, scoped: bool = True):
    """Active patients, filtered; a Junior Resident's own when ``scoped``."""
    q = select(func.count(Patient.id)).where(Patient.is_active.is_(True))
    if "start_date" in filters:
        q = q.where(Patient.date >= filters["start_date"])
    if "end_date" in filters:
        q = q.where(Patient.date <= filters["end_date"])
    if "sex" in filters:
        q = q.where(Patient.sex == filters["sex"])
    if "room" in filters:
        q = q.where(Patient.assigned_room_id == filters["room"].id)
    if "patient_type" in filters:
        q = q.where(Patient.clinic == filters["patient_type"])
    if "state" in filters:
        q = q.where(func.lower(func.trim(Patient.state)) == filters["state"].lower())
    if "doctor_id" in filters:
        q = q.where(Patient.assigned_doctor_id == filters["doctor_id"])
    if "referred" in filters:
        referred = referrals.has_open_referral()
        q = q.where(referred if filters["referred"] == "referred" else ~referred)
    if filters.get("assigned_only"):
        q = q.where(Patient.assigned_doctor_id.is_not(None))
    if filters.get("unassigned_only"):
        q = q.where(Patient.assigned_doctor_id.is_(None))
    if scoped and user is not None:
        cond = _scope(user)
        if cond is not None:
            q = q.where(cond)
    return q


def _count(q) -> int:
    return db.session.execute(q).scalar_one()


def _list_args(filters: dict) -> dict:
    """The patients list's query for the same filters."""
    args = {}
    if "start_date" in filters:
        args["date_from"] = filters["start_date"].isoformat()
    if "end_date" in filters:
        args["date_to"] = filters["end_date"].isoformat()
    if "sex" in filters:
        args["sex"] = filters["sex"]
    if "room" in filters:
        args["room"] = filters["room"].room_number
    if "patient_type" in filters:
        args["patient_type"] = filters["patient_type"]
    if "state" in filters:
        args["state"] = filters["state"]
    if "doctor_id" in filters:
        args["doctor_id"] = filters["doctor_id"]
    if filters.get("unassigned_only"):
        args["unassigned"] = "true"
    return args


CHILD_NOTE = "Active patients of the Child Guidance Clinic"


def _clinic(q, clinic: str):
    return q.where(Patient.clinic == clinic)


def cards(user: User, filters: dict | None = None) -> list[dict]:
    """The role's cards in order: ``{key, label, value, endpoint, args, note}``; ``endpoint``
    and ``args`` name the list the figure counts. Clinicians' dashboards end with the
    rating-scale figures (scores are never shown to a welfare officer: auth/records.py)."""
    filters = filters or {}
    out = _role_cards(user, filters)
    if records.may(user, records.READ, records.ASSESSMENT):
        out += rating_cards(user, filters)
    return out


RATING_FIGURES = assessments.FIGURES  # key -> (label, what it counts)


def rating_scope(user: User, filters: dict):
    """The patients the rating-scale figures count: the dashboard's (active, filtered, a Junior
    Resident's own), as a select of ids."""
    return _patients(user, filters).with_only_columns(Patient.id)


def rating_cards(user: User, filters: dict) -> list[dict]:
    counts = assessments.figure_counts(rating_scope(user, filters))
    args = {k: ("true" if v is True else v) for k, v in shown_filters(filters).items()}
    return [{"key": key, "label": label, "value": counts[key], "endpoint": "dashboard.rating_patients",
             "args": {"figure": key, **args}, "note": note}
            for key, (label, note) in assessments.FIGURES.items()]


def rating_patients(user: User, figure: str, filters: dict) -> list[dict]:
    """The list behind a rating-scale card (clinicians; audited)."""
    records.check(user, records.READ, records.ASSESSMENT)
    return assessments.figure_patients(figure, rating_scope(user, filters))


def _role_cards(user: User, filters: dict) -> list[dict]:
    kind = kind_of(user)
    largs = _list_args(filters)
    out = []

    def card(key, label, value, endpoint=None, args=None, note=None):
        out.append({"key": key, "label": label, "value": value, "endpoint": endpoint, "args": args or {},
                    "note": note})

    if kind == ADMIN:
        total = _count(_patients(user, filters))
        card("total_patients", "Total patients", total, "patients.index", largs, "Active patients (adult and child)")
        card("registered_patients", "Registered (adult) patients", _count(_clinic(_patients(user, filters), "adult")),
             "patients.index", {**largs, "patient_type": "adult"})
        card("child_patients", "Child patients", _count(_clinic(_patients(user, filters), "child")), "patients.index",
             {**largs, "patient_type": "child"}, CHILD_NOTE)
        card("total_intake_records", "Intake records", _count(select(func.count(IntakeRecord.id))), "intake.index",
             None, "Out-patient intake records (ADL files)")
        card("total_staff", "Staff", _count(select(func.count(User.id)).where(User.role.in_((FACULTY, RESIDENT, PWO)))),
             "auth.users", None, "Faculty, Residents and welfare officers, including deactivated accounts")
        card("total_rooms", "Rooms", _count(select(func.count(Room.id))), "opd.rooms", None,
             "All OPD rooms, including inactive ones")
        return out
    if kind == PWO:
        card("adult_patients", "Adult patients", _count(_clinic(_patients(user, filters), "adult")), "patients.index",
             {**largs, "patient_type": "adult"})
        card("child_patients", "Child patients", _count(_clinic(_patients(user, filters), "child")), "patients.index",
             {**largs, "patient_type": "child"}, CHILD_NOTE)
        card("referred_patients", "Open referrals", referrals.open_count(), "opd.referrals", {"status": "open"},
             "Pending or seen referrals between doctors")
        return out
    if kind == JUNIOR_RESIDENT:
        card("adult_patients", "My patients", _count(_patients(user, filters)), "opd.today", None,
             "Assigned to you, in your room today, or referred to you")
    else:
        card("adult_patients", "Adult patients", _count(_clinic(_patients(user, filters), "adult")), "patients.index",
             {**largs, "patient_type": "adult"})
    card("child_patients", "Child patients", _count(_clinic(_patients(user, filters), "child")),
         "opd.today" if kind == JUNIOR_RESIDENT else "patients.index",
         None if kind == JUNIOR_RESIDENT else {**largs, "patient_type": "child"},
         "Your child patients" if kind == JUNIOR_RESIDENT else CHILD_NOTE)
    card("referred_patients", "Referred to me", referrals.open_count(user.id), "opd.referrals",
         {"direction": "to_me", "status": "open"}, "Pending or seen referrals to you")
    if kind == SENIOR_RESIDENT:
        card("total_patients", "Total patients", _count(_patients(user, filters, scoped=False)), "patients.index",
             largs, "All active patients of the department")
    if kind in (SENIOR_RESIDENT, JUNIOR_RESIDENT):
        card("unassigned_patients", "Unassigned patients",
             _count(_patients(user, filters, scoped=False).where(Patient.assigned_doctor_id.is_(None))),
             "patients.index", {**largs, "doctor_id": "none"}, "Active patients with no doctor yet")
    return out


def _grouped(user, filters, column_expr, label_name):
    expr = column_expr.label(label_name)
    q = _patients(user, filters).with_only_columns(expr, func.count(Patient.id)).group_by(literal_column(label_name))
    return db.session.execute(q).all()


def chart_data(user: User, filters: dict | None = None) -> dict:
    """``{gender_distribution, age_group_distribution, state_distribution}``, each a list of
    ``{label, count}`` (states: the ten largest, then "Other states" and "Not recorded")."""
    from ..patients.stats import _age_band_expr
    filters = filters or {}
    by_sex = dict(_grouped(user, filters, Patient.sex, "dash_sex"))
    gender = [{"label": label, "count": by_sex.get(code, 0)} for code, label in SEX_LABELS]
    unknown = sum(n for k, n in by_sex.items() if k not in dict(SEX_LABELS))
    if unknown:
        gender.append({"label": NOT_RECORDED, "count": unknown})
    by_age = dict(_grouped(user, filters, _age_band_expr(), "dash_age_band"))
    ages = [{"label": label, "count": by_age.get(label, 0)} for label, _lo, _hi in AGE_GROUPS]
    if by_age.get(NOT_RECORDED):
        ages.append({"label": NOT_RECORDED, "count": by_age[NOT_RECORDED]})
    states: dict[str, int] = {}
    for value, n in _grouped(user, filters, func.lower(func.trim(Patient.state)), "dash_state"):
        key = (value or "").strip()
        states[key] = states.get(key, 0) + n
    blank = states.pop("", 0)
    ranked = sorted(states.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [{"label": _state_label(k), "count": n} for k, n in ranked[:10]]
    rest = sum(n for _k, n in ranked[10:])
    if rest:
        top.append({"label": "Other states", "count": rest})
    if blank:
        top.append({"label": NOT_RECORDED, "count": blank})
    return {"gender_distribution": gender, "age_group_distribution": ages, "state_distribution": top}


def _state_label(key: str) -> str:
    """A stored state as people write it: "punjab" → "Punjab", "jammu-and-kashmir" → "Jammu And Kashmir"."""
    return " ".join(w.capitalize() if w not in ("and", "of") else w for w in key.replace("-", " ").replace("_", " ")
                    .split())


def overview(user: User, filters: dict | None = None) -> dict:
    """``GET /api/dashboard``'s data: ``{role, sub_role, title, cards{key: n}, card_list[], charts, filters}``."""
    filters = filters or {}
    kind = kind_of(user)
    listed = cards(user, filters)
    body = {"role": user.role, "title": TITLES[kind], "cards": {c["key"]: c["value"] for c in listed},
            "card_list": listed, "charts": chart_data(user, filters)}
    if user.role == RESIDENT:
        body["sub_role"] = kind
    shown = shown_filters(filters)
    if shown:
        body["filters"] = shown
    return body


# ------------------------------------------------------------------ registrations calendar

def parse_month(raw: str | None) -> dt.date:
    """``YYYY-MM`` → the month's first day (default: this month, IST)."""
    raw = (raw or "").strip()
    if not raw:
        return today_ist().replace(day=1)
    try:
        year, month = raw[:7].split("-")
        first = dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationError("Validation failed", errors=[field_error("month", "month must be YYYY-MM", raw[:10],
                                                                       "query")])
    if len(raw) != 7 or not 1900 <= first.year <= 2999:
        raise ValidationError("Validation failed", errors=[field_error("month", "month must be YYYY-MM", raw[:10],
                                                                       "query")])
    return first


def parse_day(raw: str | None, location: str = "query", required: bool = False) -> dt.date | None:
    """``YYYY-MM-DD`` (years 1900-2999) → the date; empty → None (a 400 when ``required``);
    anything else a 400."""
    raw = (raw or "").strip() if isinstance(raw, str) else ""
    if not raw and not required:
        return None
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2999:
        raise ValidationError("Validation failed", errors=[field_error("date", "date must be YYYY-MM-DD", raw[:12],
                                                                       location)])
    return day


def _ist_day_of_created():
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Kolkata", Patient.created_at))
    return func.date(Patient.created_at, "+5 hours", "+30 minutes")


def registrations_by_date(month: dt.date) -> list[dict]:
    """Every day of the month with the patients registered that IST day: ``[{date, count}]``."""
    days = calendar.monthrange(month.year, month.month)[1]
    last = month.replace(day=days)
    start, _ = ist_day_bounds_utc(month)
    _, end = ist_day_bounds_utc(last)
    day = _ist_day_of_created().label("dash_reg_day")
    found: dict[dt.date, int] = {}
    for value, n in db.session.execute(select(day, func.count()).where(
            Patient.created_at >= start, Patient.created_at < end).group_by(literal_column("dash_reg_day"))):
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        elif isinstance(value, dt.datetime):
            value = value.astimezone(IST).date() if value.tzinfo else value.date()
        found[value] = found.get(value, 0) + n
    return [{"date": (month + dt.timedelta(days=i)).isoformat(), "count": found.get(month + dt.timedelta(days=i), 0)}
            for i in range(days)]


def registrations_by_room(day: dt.date) -> list[dict]:
    """Patients registered on ``day`` (IST) per assigned room: ``[{room, count}]`` ("No room" last)."""
    start, end = ist_day_bounds_utc(day)
    rows = db.session.execute(select(Room.room_number, func.count(Patient.id))
                              .select_from(Patient).outerjoin(Room, Room.id == Patient.assigned_room_id)
                              .where(Patient.created_at >= start, Patient.created_at < end)
                              .group_by(Room.room_number)).all()
    named = sorted(((r, n) for r, n in rows if r is not None), key=lambda rn: (len(rn[0]), rn[0]))
    out = [{"room": r, "count": n} for r, n in named]
    none = sum(n for r, n in rows if r is None)
    if none:
        out.append({"room": None, "count": none})
    return out


def patients_registered_on(day: dt.date) -> list[dict]:
    """The patients registered on ``day`` (IST), newest first, as the patients list gives
    them (``patients.reading.patient_dicts``): the same patients the calendar counts for that
    day (``registrations_by_date``), archived ones included."""
    start, end = ist_day_bounds_utc(day)
    ids = list(db.session.execute(select(Patient.id).where(Patient.created_at >= start, Patient.created_at < end)
                                  .order_by(Patient.created_at.desc(), Patient.id.desc())).scalars())
    return reading.patient_dicts(ids)


def calendar_weeks(month: dt.date, per_day: list[dict]) -> list[list[dict | None]]:
    """The month as weeks (Monday first) of ``{date, day, count}`` or None outside the month."""
    counts = {d["date"]: d["count"] for d in per_day}
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        weeks.append([{"date": d, "day": d.day, "count": counts.get(d.isoformat(), 0)} if d.month == month.month
                      else None for d in week])
    return weeks
