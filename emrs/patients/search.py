"""Finding patients: the list with its filters, ranked search by number and by name
(trigram and word indexes on PostgreSQL, a portable fallback on SQLite), capped counts,
and likely duplicates at registration. Rows come back as patient objects (reading.py)."""
from __future__ import annotations

import json
import re

from sqlalchemy import and_, case, exists, func, literal, literal_column, or_, select, text

from ..errors import ValidationError, field_error
from ..extensions import db
from ..intake.models import IntakeRecord
from ..querying import date_filters, within_dates
from . import names as N
from .models import Patient
from .names import name_key, normalise_name
from .reading import patient_dicts, with_extras

PAGE_MAX = 100
COUNT_CAP = 10_000

# --------------------------------------------------------------------------- duplicates

def likely_duplicates(*, name=None, sex=None, age=None, mobile=None, cr_no=None, exclude_id=None,
                      limit: int = 5) -> list[Patient]:
    """Same CR or mobile; or a similar name with the same sex and an age within 3 years."""
    conds = []
    if cr_no and isinstance(cr_no, str) and cr_no.strip():
        conds.append(func.upper(Patient.cr_no) == cr_no.strip().upper())
    if mobile and isinstance(mobile, str) and len(re.sub(r"\D", "", mobile)) >= 10:
        conds.append(Patient.contact_number == mobile.strip())
    if name and isinstance(name, str) and len(name.strip()) >= 3:
        key = name_key(name)
        if len(set(key.split())) >= 2:
            # Every word key of the typed name (same name or same key included), any script.
            name_cond = _has_word_keys(key.split())
        else:
            name_cond = or_(func.lower(Patient.name) == normalise_name(name).lower(), Patient.name_key == key)
        extra = []
        if sex in ("M", "F", "Other"):
            extra.append(Patient.sex == sex)
        try:
            a = int(age)
            if 0 <= a <= 150:  # a typed age; anything else would overflow the column's type
                extra.append(Patient.age.between(a - 3, a + 3))
        except (TypeError, ValueError):
            pass
        conds.append(and_(name_cond, *extra))
    if not conds:
        return []
    q = select(Patient).where(Patient.is_active.is_(True), or_(*conds))
    if exclude_id:
        q = q.where(Patient.id != exclude_id)
    return list(db.session.execute(q.order_by(Patient.id.desc()).limit(limit)).scalars())


def _has_word_keys(keys: list[str]):
    """Names that have every one of these word keys (2 or more), in any order and script:
    "Harjeet Dhillon" is a likely duplicate of "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ" and of "Harjit Singh Dhillon"."""
    keys = list(dict.fromkeys(k for k in keys if k))
    if len(keys) < 2:
        return literal(False)
    if _is_pg():
        # All keys in one GIN containment (with a common key the planner then walks the newest
        # rows instead of reading the rare key's whole posting list: 6 vs 32 ms for "Gurpreet Kaur").
        from sqlalchemy.dialects.postgresql import array
        return Patient.name_words.op("@>")(array(["~" + k for k in keys]))
    padded = literal(" ").concat(Patient.name_key).concat(" ")
    return and_(*(padded.like(f"% {k} %") for k in keys))


# --------------------------------------------------------------------------- search & lists

AGE_BANDS = {"0-17": (0, 17), "18-25": (18, 25), "26-35": (26, 35), "36-45": (36, 45), "46-55": (46, 55),
             "56-65": (56, 65), "65+": (66, 150)}
FILTER_KEYS = ("sex", "age_band", "date_from", "date_to", "doctor_id", "complexity", "has_adl_file",
               "file_status", "room", "assigned_room", "unassigned", "state")


def parse_filters(args) -> tuple[dict, list]:
    """Filters from a query string (pages and API). Returns (filters, errors)."""
    out, errors = {}, []

    def bad(name, msg):
        errors.append(field_error(name, msg, (args.get(name) or "")[:50], "query"))

    sex = (args.get("sex") or "").strip()
    if sex:
        if sex in ("M", "F", "Other"):
            out["sex"] = sex
        else:
            bad("sex", "sex must be M, F or Other")
    band = (args.get("age_band") or "").strip()
    if band:
        if band in AGE_BANDS:
            out["age_band"] = band
        else:
            bad("age_band", "Unknown age band")
    date_filters(args, out, errors)
    raw = (args.get("doctor_id") or args.get("assigned_doctor_id") or "").strip()
    unassigned = (args.get("unassigned") or "").strip().lower()
    if unassigned:
        if unassigned in ("1", "true"):
            out["unassigned"] = True
        elif unassigned not in ("0", "false"):
            bad("unassigned", "unassigned must be true or false")
    if raw:
        if raw.lower() == "none":  # "Unassigned" in the doctor filter: no doctor yet
            out["unassigned"] = True
        elif raw.isdecimal() and len(raw) < 10:
            out["doctor_id"] = int(raw)
        else:
            bad("doctor_id", "doctor_id must be a positive integer")
    complexity = (args.get("complexity") or args.get("case_complexity") or "").strip()
    if complexity:
        if complexity in ("simple", "complex"):
            out["complexity"] = complexity
        else:
            bad("complexity", "complexity must be simple or complex")
    has_adl = (args.get("has_adl_file") or "").strip().lower()
    if has_adl:
        if has_adl in ("true", "false"):
            out["complexity"] = "complex" if has_adl == "true" else "simple"
        else:
            bad("has_adl_file", "has_adl_file must be true or false")
    status = (args.get("file_status") or "").strip()
    if status:
        if status in ("none", "created", "stored", "retrieved", "active", "archived"):
            out["file_status"] = status
        else:
            bad("file_status", "Unknown file status")
    room = (args.get("room") or args.get("assigned_room") or "").strip()
    if room:
        if len(room) <= 20:
            out["room"] = room
        else:
            bad("room", "room must be at most 20 characters")
    clinic = (args.get("patient_type") or args.get("clinic") or "").strip().lower()
    if clinic:
        if clinic in ("adult", "child"):
            out["clinic"] = clinic
        else:
            bad("patient_type", "patient_type must be adult or child")
    state = (args.get("state") or "").strip()
    if state:
        if len(state) <= 60:
            out["state"] = state
        else:
            bad("state", "state must be at most 60 characters")
    return out, errors


def _apply_filters(q, filters: dict):
    if "sex" in filters:
        q = q.where(Patient.sex == filters["sex"])
    if "age_band" in filters:
        lo, hi = AGE_BANDS[filters["age_band"]]
        q = q.where(Patient.age.between(lo, hi))
    q = within_dates(q, Patient.date, filters)
    if "doctor_id" in filters:
        q = q.where(Patient.assigned_doctor_id == filters["doctor_id"])
    if "complexity" in filters:
        has = exists().where(IntakeRecord.patient_id == Patient.id)
        q = q.where(has if filters["complexity"] == "complex" else ~has)
    if "file_status" in filters:
        q = q.where(exists().where(IntakeRecord.patient_id == Patient.id,
                                   IntakeRecord.file_status == filters["file_status"]))
    if "room" in filters:
        q = q.where(Patient.assigned_room == filters["room"])
    if filters.get("unassigned"):
        q = q.where(Patient.assigned_doctor_id.is_(None))
    if "state" in filters:
        q = q.where(func.lower(Patient.state) == filters["state"].lower())
    if "clinic" in filters:  # ?patient_type=child: the Child Guidance Clinic's patients
        q = q.where(Patient.clinic == filters["clinic"])
    return q


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def count(q) -> tuple[int, bool]:
    """Exact count up to COUNT_CAP rows; beyond that the planner's estimate (flagged),
    so a list page never counts a million rows."""
    # Only the id is carried out of the capped subquery: the database need not form whole rows.
    capped = db.session.execute(select(func.count()).select_from(
        q.with_only_columns(Patient.id).limit(COUNT_CAP + 1).subquery())).scalar_one()
    if capped <= COUNT_CAP:
        return capped, False
    if _is_pg():
        # The statement with its parameters bound by the driver (no user text is ever
        # rendered into the SQL).
        compiled = q.compile(dialect=db.session.get_bind().dialect)
        plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                                       dict(compiled.params)).scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(int(plan[0]["Plan"]["Plan Rows"]), capped), True
    whole = select(func.count()).select_from(q.with_only_columns(Patient.id).subquery())
    return db.session.execute(whole).scalar_one(), False


IDENT = re.compile(r"^[A-Za-z]{0,4}[-/ ]?\d[\w\-/]*$")


def search(term: str, page: int = 1, limit: int = 20, filters: dict | None = None):
    """Ranked search: exact/prefix on CR, PSY, ADL, CGC numbers and mobile; names by substring,
    typo and transliteration variants (trigrams on PostgreSQL, substring on SQLite).
    Returns (patients, total, estimated)."""
    term = (term or "").strip()
    if len(term) < 2:
        raise ValidationError("Search term must be at least 2 characters long")
    term = term[:100]
    compact = re.sub(r"[\s\-/]", "", term).upper()
    conds, rank = [], []
    if IDENT.match(term) or compact.isdecimal():
        prefix = compact + "%"
        # The CGC number (a child of the Child Guidance Clinic) like the others: migration 0028
        # indexes it on PostgreSQL (prefix and reversed body, only the rows that have one).
        id_cols = [Patient.cr_no, Patient.psy_no, Patient.adl_no, Patient.cgc_number]
        exact = or_(*(func.upper(c) == compact for c in id_cols), Patient.contact_number == compact)
        by_number = [*(func.upper(c).like(prefix) for c in id_cols), func.upper(Patient.contact_number).like(prefix)]
        if len(compact) == 14 and compact.isascii() and compact.isdecimal():  # an ABHA number, with or without hyphens
            exact = or_(exact, Patient.abha_number == compact)
            by_number.append(Patient.abha_number == compact)
        if compact.isalnum() and compact.isascii() and re.search(r"\d", compact):
            # A CR/PSY/ADL/CGC number by its body (the number without its letters in front:
            # "2025000123" for CR2025000123) or by any 4+ trailing characters ("0123").
            for c in id_cols:
                body_equal, body_ends = _number_body_match(c, compact)
                exact = or_(exact, body_equal)
                by_number.append(body_ends if len(compact) >= 4 else body_equal)
        conds.append(or_(*by_number))
        rank.append(case((exact, 2), else_=1))
    lowered = normalise_name(term).lower()
    # Names have no digits: a term with a digit is a CR/PSY/ADL number or a mobile.
    has_name = N.has_letters(term) and not (conds and re.search(r"\d", term))
    if has_name:
        key = name_key(term)
        if _is_pg():
            name_l = func.lower(Patient.name)
            conds.append(or_(name_l.like(f"%{_escape_like(lowered)}%"),
                             literal(lowered).op("<%")(name_l),
                             literal(key).op("<%")(Patient.name_key) if key else literal(False)))
            score = func.greatest(func.word_similarity(lowered, name_l),
                                  func.word_similarity(key, Patient.name_key) if key else 0)
            rank.append(case((name_l == lowered, 2.0), else_=score))
        else:
            words_l = lowered.split()
            keys = key.split()
            by_words = and_(*(func.lower(Patient.name).like(f"%{_escape_like(w)}%", escape="\\") for w in words_l))
            by_keys = and_(*(Patient.name_key.like(f"%{k}%") for k in keys)) if keys else literal(False)
            conds.append(or_(by_words, by_keys))
            rank.append(case((func.lower(Patient.name) == lowered, 2),
                             (func.lower(Patient.name).like(f"{_escape_like(lowered)}%", escape="\\"), 1.5),
                             (by_words, 1), else_=0.5))
    if not conds:  # e.g. "@@" or "12-": nothing a patient can be found by
        return [], 0, False
    order = [r.desc() for r in rank] + [Patient.id.desc()]
    if has_name and _is_pg() and not filters and page * limit <= 200:
        found = _word_search(lowered, limit * page)
        if len(found) >= limit * page or (found and not _looks_partial(lowered)):
            return _word_page(found, page, limit, lowered)
    q = select(Patient).where(Patient.is_active.is_(True), or_(*conds))
    q = _apply_filters(q, filters or {})
    if has_name and _is_pg():
        # A common name matches hundreds of thousands of rows: rank the first CANDIDATES
        # matches the trigram indexes return instead of scoring (and counting) them all.
        # With a LIMIT the planner likes a sequential scan that evaluates the similarity
        # operators row by row (seconds at 1M rows); the trigram index is always better.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        pool = q.with_only_columns(Patient.id).limit(CANDIDATES).subquery()
        ranked = select(Patient).where(Patient.id.in_(select(pool.c.id)))
        total = db.session.execute(select(func.count()).select_from(pool)).scalar_one()
        rows = list(db.session.execute(ranked.order_by(*order).offset((page - 1) * limit).limit(limit)).scalars())
        return rows, total, total >= CANDIDATES
    total, estimated = count(q)
    rows = list(db.session.execute(q.order_by(*order).offset((page - 1) * limit).limit(limit)).scalars())
    return rows, total, estimated


def _looks_partial(lowered: str) -> bool:
    """A last word of 1–3 letters is still being typed: let the trigram search add more."""
    last = lowered.split()[-1] if lowered.split() else ""
    return len(last) <= 3


def _word_search(lowered: str, want: int) -> list[int]:
    """Ids from the word index (migration 0004), newest first: first the names whose
    words start with every typed word, then names whose word keys match (spelling and
    transliteration variants). Each query stops at `want` rows."""
    from sqlalchemy.dialects.postgresql import array
    ws = N.words(lowered)
    if not ws:
        return []
    base = select(Patient.id).where(Patient.is_active.is_(True))
    # The column is JSON on SQLite, text[] on PostgreSQL: use the array operators by name.
    exact = base.where(Patient.name_words.op("@>")(array(ws))).order_by(Patient.id.desc()).limit(want)
    ids = list(db.session.execute(exact).scalars())
    if len(ids) < want:
        from .names import word_key
        keys = [word_key(w) for w in ws]
        rare = [k not in COMMON_WORD_KEYS for k in keys]
        conds = []
        for w, k, is_rare in zip(ws, keys, rare):
            words = Patient.name_words
            if not is_rare and any(rare):
                # Checked on the rows the rarer words find, not through the index: the
                # posting list of "Singh" or "Kaur" holds a quarter of all patients and
                # intersecting it cost 3 ms at 1M rows (1.4 ms without it).
                words = words.op("||")(text("'{}'::text[]"))
            conds.append(words.op("&&")(array([w, "~" + k])))
        fuzzy = base.where(*conds)
        if ids:
            fuzzy = fuzzy.where(Patient.id.not_in(ids))
        ids += list(db.session.execute(fuzzy.order_by(Patient.id.desc()).limit(want - len(ids))).scalars())
    return ids


def _word_page(ids: list[int], page: int, limit: int, lowered: str):
    chosen = ids[(page - 1) * limit: page * limit]
    by_id = {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(chosen))).scalars()} \
        if chosen else {}
    rows = [by_id[i] for i in chosen if i in by_id]
    full = len(ids) >= page * limit
    return rows, len(ids) if not full else max(len(ids), page * limit + 1), full


CANDIDATES = 2000
# Word keys (names.word_key) that a large share of patients carry: Singh, Kaur/Kour,
# Kumar/Kumari (in the 1M bench: 30 %, 25 %, 9 % of rows). _word_search leaves them out of
# the index scan when the term has a rarer word.
COMMON_WORD_KEYS = frozenset({"sng", "kr", "kmr"})


NUMBER_BODY = "^[A-Z]+|[^0-9A-Z]"  # what is not the body of a CR/PSY/ADL number (migration 0015)


def number_body(value: str | None) -> str | None:
    """CR2025000123 -> 2025000123, ADL/2025/0042 -> 20250042: upper-case, without the letters
    in front and without separators. SQLite calls it as emrs_number_body() (emrs/__init__.py)."""
    return None if value is None else re.sub(NUMBER_BODY, "", value.upper())


def _number_body_match(column, compact: str):
    """(body equals the term, body ends with the term). PostgreSQL: the expressions of the
    reversed-body indexes of migration 0015 (equality and a LIKE prefix on the reversed body,
    both served by the b-tree); SQLite: the same rule in Python."""
    if _is_pg():
        body = func.regexp_replace(func.upper(column), literal_column(f"'{NUMBER_BODY}'"),
                                   literal_column("''"), literal_column("'g'"))
        rev, term = func.reverse(body), compact[::-1]
        return rev == term, rev.like(term + "%")
    body = func.emrs_number_body(column)
    return body == compact, body.like("%" + compact)


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_patient_dicts(page: int = 1, limit: int = 20, filters: dict | None = None,
                       search_term: str | None = None, reader=None):
    """The patients list as patient_dict()s, newest first (or ranked when searching): the
    page's ids, then patient_dicts(). With ``reader``, the list is scoped by the permission
    map: a search by ``search_scope`` (the department), browsing by ``list_scope`` (a Junior
    Resident browses their own patients and those nobody has: ``opd.queue.browsable``,
    through ``permissions.own_list_condition``)."""
    if search_term:
        # permissions.search_scope is DEPARTMENT for everyone (its docstring says why).
        rows, total, estimated = search(search_term, page, limit, filters)
        return with_extras(rows), total, estimated
    q, total, estimated = _register(filters, own_of=reader if browses_own(reader) else None)
    ids = list(db.session.execute(q.with_only_columns(Patient.id)
                                  .order_by(Patient.created_at.desc(), Patient.id.desc())
                                  .offset((page - 1) * limit).limit(limit)).scalars())
    return patient_dicts(ids), total, estimated


def browses_own(reader) -> bool:
    """Whether ``reader`` browses only their own patients (permissions.list_scope)."""
    if reader is None:
        return False
    from ..auth.permissions import OWN_AND_ROOM, list_scope
    return list_scope(reader) == OWN_AND_ROOM


def _register(filters: dict | None, own_of=None):
    """The list's query (without order and page) and its total; ``own_of``: only what that
    user browses (opd.queue.browsable: their own patients and those nobody has yet)."""
    q = select(Patient).where(Patient.is_active.is_(True))
    q = _apply_filters(q, filters or {})
    if own_of is not None:
        from ..auth.permissions import own_list_condition
        q = q.where(own_list_condition(own_of))
    total, estimated = None, False
    if not filters and own_of is None and _is_pg():
        # The whole register: the table's row estimate (kept by ANALYZE/autovacuum) once
        # it is large; small tables are counted exactly.
        rows_estimate = db.session.execute(text(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'registered_patient'::regclass")).scalar()
        if rows_estimate is not None and rows_estimate > COUNT_CAP:
            total, estimated = int(rows_estimate), True
    if total is None:
        total, estimated = count(q)
    return q, total, estimated


