#!/usr/bin/env python
"""Load a synthetic EMRS database for the performance benchmark.

    python bench/seed.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench \
        --patients 1000000 --visits-per-patient 3

Drops and re-creates the database, runs the real migrations (`flask --app emrs db upgrade`),
creates four users (one per role; `bench@emrs.local` is an Admin without a login code), then
COPYs synthetic patients and visits, rebuilds the secondary indexes and ANALYZEs.
Writes bench/results/seed-<dbname>.json (timings, known patients, timeline patients).

Everything is deterministic (--seed, default 20250601) except "today", which is the IST date
of the run so that Today's Patients has rows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
# The application source: this checkout, or a snapshot of it (EMRS_APP_DIR / --app-dir), e.g.
# `git archive HEAD | tar -x -C /tmp/emrs-head` while others edit the working tree.
APP_DIR = Path(os.environ.get("EMRS_APP_DIR") or ROOT)
for _i, _a in enumerate(sys.argv):
    if _a == "--app-dir" and _i + 1 < len(sys.argv):
        APP_DIR = Path(sys.argv[_i + 1])
    elif _a.startswith("--app-dir="):
        APP_DIR = Path(_a.split("=", 1)[1])
sys.path.insert(0, str(APP_DIR))

from emrs.patients.names import name_key, name_tokens  # noqa: E402  (the rules the service uses)

BENCH_EMAIL = "bench@emrs.local"
BENCH_PASSWORD = os.environ.get("BENCH_PASSWORD", "Bench-Passw0rd-2025")
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

# ------------------------------------------------------------------------------ names
# Punjabi (Sikh) and Hindi names as the registration desk writes them, with some
# transliteration variety (Harpreet/Harprit, Kaur/Kour, Manjeet/Manjit ...).
SIKH_MALE = ["Gurpreet", "Harpreet", "Manpreet", "Jaspreet", "Amandeep", "Mandeep", "Harjit", "Jasvir",
             "Sukhwinder", "Harbhajan", "Kulwant", "Balwinder", "Gurdeep", "Jagdeep", "Paramjit", "Ranjit",
             "Satnam", "Tarsem", "Baldev", "Gurmeet", "Harinder", "Jaswant", "Kuldeep", "Lakhwinder",
             "Navdeep", "Rajinder", "Sarbjit", "Surinder", "Darshan", "Avtar", "Gurbachan", "Jarnail",
             "Karnail", "Nirmal", "Pritpal", "Sukhdev", "Tejinder", "Balbir", "Charanjit", "Davinder",
             "Gurcharan", "Inderjit", "Jagjit", "Mohinder", "Sukhjinder", "Harmanpreet", "Arshdeep"]
SIKH_FEMALE = ["Gurpreet", "Harpreet", "Manpreet", "Jaspreet", "Amandeep", "Simranjit", "Rajwinder",
               "Sukhwinder", "Kulwinder", "Paramjit", "Baljit", "Harjinder", "Jasbir", "Manjit", "Navneet",
               "Parminder", "Rupinder", "Sandeep", "Surjit", "Gurmeet", "Harleen", "Jasleen", "Kamaljit",
               "Ravneet", "Simran", "Amarjit", "Charanjit", "Daljit", "Inderjit", "Mandeep"]
HINDU_MALE = ["Rakesh", "Ramesh", "Suresh", "Mahesh", "Rajesh", "Anil", "Sunil", "Vijay", "Sanjay", "Ajay",
              "Vinod", "Ashok", "Pawan", "Deepak", "Pankaj", "Rohit", "Amit", "Sumit", "Vikas", "Naresh",
              "Mukesh", "Dinesh", "Satish", "Ravi", "Manoj", "Rajiv", "Sandeep", "Arun", "Vivek", "Gaurav",
              "Ankit", "Nitin", "Sachin", "Yogesh", "Krishan", "Ram", "Shyam", "Om Parkash", "Subhash", "Mohan"]
HINDU_FEMALE = ["Sunita", "Anita", "Geeta", "Seema", "Neelam", "Poonam", "Renu", "Asha", "Usha", "Kamla",
                "Savita", "Sarita", "Kiran", "Pooja", "Priya", "Neha", "Sonia", "Ritu", "Meena", "Rekha",
                "Suman", "Sushma", "Nisha", "Manju", "Anju", "Sapna", "Shalini", "Kavita", "Rajni", "Santosh"]
SIKH_SURNAMES = ["Sandhu", "Sidhu", "Gill", "Grewal", "Dhillon", "Bains", "Brar", "Randhawa", "Bajwa",
                 "Cheema", "Virk", "Mann", "Sekhon", "Aulakh", "Bhullar", "Chahal", "Dhaliwal", "Hundal",
                 "Johal", "Kang", "Sohal", "Toor", "Walia", "Bedi", "Ahluwalia", "Saini"]
HINDU_SURNAMES = ["Sharma", "Verma", "Kumar", "Gupta", "Chauhan", "Thakur", "Garg", "Bansal", "Goyal",
                  "Arora", "Malhotra", "Kapoor", "Khanna", "Mehta", "Jain", "Aggarwal", "Mittal", "Singla",
                  "Joshi", "Bhatia", "Sood", "Chopra", "Sethi", "Rana", "Yadav", "Mishra", "Pandey", "Saini"]
VARIANTS = {  # the same name written another way (about 1 in 8 names)
    "Harpreet": ["Harprit", "Harpreit"], "Jaspreet": ["Jasprit"], "Manjit": ["Manjeet"], "Harjit": ["Harjeet"],
    "Paramjit": ["Paramjeet"], "Ranjit": ["Ranjeet"], "Kuldeep": ["Kuldip"], "Gurdeep": ["Gurdip"],
    "Mohinder": ["Mohindar", "Mahinder"], "Surinder": ["Surindar"], "Rajinder": ["Rajindar", "Rajender"],
    "Davinder": ["Devinder", "Devindar"], "Sukhdev": ["Sukhdeo"], "Baldev": ["Baldeo"], "Jasvir": ["Jasbir"],
    "Dhillon": ["Dhilon"], "Sandhu": ["Sandhoo"], "Sidhu": ["Sidhoo"], "Grewal": ["Grewaal"],
    "Kaur": ["Kour"], "Sharma": ["Sarma"], "Aggarwal": ["Agarwal", "Agrawal"], "Chauhan": ["Chouhan"],
    "Goyal": ["Goel"], "Mittal": ["Mital"], "Om Parkash": ["Om Prakash"], "Krishan": ["Krishna"],
    "Kamla": ["Kamala"], "Geeta": ["Gita"], "Seema": ["Sima"], "Pooja": ["Puja"],
}
# Names written in Gurmukhi or Devanagari at the desk (--native-share of the names, 7 % by default):
# the same structure, in the script of the family's usual language.
GURMUKHI_MALE = ["ਗੁਰਪ੍ਰੀਤ", "ਹਰਪ੍ਰੀਤ", "ਮਨਪ੍ਰੀਤ", "ਜਸਪ੍ਰੀਤ", "ਅਮਨਦੀਪ", "ਮਨਦੀਪ", "ਹਰਜੀਤ", "ਜਸਵੀਰ", "ਸੁਖਵਿੰਦਰ",
                 "ਹਰਭਜਨ", "ਕੁਲਵੰਤ", "ਬਲਵਿੰਦਰ", "ਗੁਰਦੀਪ", "ਜਗਦੀਪ", "ਪਰਮਜੀਤ", "ਰਣਜੀਤ", "ਸਤਨਾਮ", "ਬਲਦੇਵ",
                 "ਗੁਰਮੀਤ", "ਕੁਲਦੀਪ", "ਮੋਹਿੰਦਰ", "ਸੁਖਦੇਵ", "ਤੇਜਿੰਦਰ"]
GURMUKHI_FEMALE = ["ਸਿਮਰਨਜੀਤ", "ਰਾਜਵਿੰਦਰ", "ਕੁਲਵਿੰਦਰ", "ਬਲਜੀਤ", "ਹਰਜਿੰਦਰ", "ਜਸਬੀਰ", "ਮਨਜੀਤ", "ਨਵਨੀਤ",
                   "ਪਰਮਿੰਦਰ", "ਰੁਪਿੰਦਰ", "ਸੁਰਜੀਤ", "ਹਰਲੀਨ", "ਜਸਲੀਨ", "ਕਮਲਜੀਤ", "ਸਿਮਰਨ", "ਅਮਰਜੀਤ", "ਗੁਰਪ੍ਰੀਤ"]
GURMUKHI_SURNAMES = ["ਸੰਧੂ", "ਸਿੱਧੂ", "ਗਿੱਲ", "ਗਰੇਵਾਲ", "ਢਿੱਲੋਂ", "ਬੈਂਸ", "ਬਰਾੜ", "ਰੰਧਾਵਾ", "ਬਾਜਵਾ", "ਚੀਮਾ",
                     "ਵਿਰਕ", "ਮਾਨ", "ਸੇਖੋਂ", "ਔਲਖ", "ਭੁੱਲਰ", "ਚਾਹਲ", "ਧਾਲੀਵਾਲ"]
DEVANAGARI_MALE = ["राकेश", "रमेश", "सुरेश", "महेश", "राजेश", "अनिल", "सुनील", "विजय", "संजय", "अजय", "विनोद",
                   "अशोक", "पवन", "दीपक", "पंकज", "रोहित", "अमित", "सुमित", "विकास", "नरेश", "मुकेश", "दिनेश",
                   "मनोज", "गौरव"]
DEVANAGARI_FEMALE = ["सुनीता", "अनीता", "गीता", "सीमा", "नीलम", "पूनम", "रेणु", "आशा", "उषा", "कमला", "सविता",
                     "सरिता", "किरण", "पूजा", "प्रिया", "नेहा", "रितु", "मीना", "रेखा", "सुमन"]
DEVANAGARI_SURNAMES = ["शर्मा", "वर्मा", "गुप्ता", "चौहान", "ठाकुर", "गर्ग", "बंसल", "गोयल", "अरोड़ा", "मल्होत्रा",
                       "कपूर", "खन्ना", "मेहता", "जैन", "अग्रवाल", "मित्तल", "जोशी", "भाटिया", "चोपड़ा", "यादव",
                       "मिश्रा", "पांडे"]
FATHER = SIKH_MALE + HINDU_MALE
CITIES = [("Chandigarh", "Chandigarh", "Chandigarh"), ("Mohali", "SAS Nagar", "Punjab"),
          ("Ludhiana", "Ludhiana", "Punjab"), ("Patiala", "Patiala", "Punjab"), ("Amritsar", "Amritsar", "Punjab"),
          ("Jalandhar", "Jalandhar", "Punjab"), ("Panchkula", "Panchkula", "Haryana"),
          ("Ambala", "Ambala", "Haryana"), ("Yamunanagar", "Yamunanagar", "Haryana"),
          ("Shimla", "Shimla", "Himachal Pradesh"), ("Solan", "Solan", "Himachal Pradesh"),
          ("Bathinda", "Bathinda", "Punjab"), ("Sangrur", "Sangrur", "Punjab"), ("Ropar", "Rupnagar", "Punjab")]
CATEGORIES = ["GEN", "GEN", "GEN", "SC", "OBC", "OBC", "EWS", "ST"]
MARITAL = ["Married", "Married", "Married", "Unmarried", "Widowed", "Separated"]
OCCUPATION = ["Farmer", "Labourer", "Homemaker", "Student", "Shopkeeper", "Driver", "Clerk", "Teacher",
              "Unemployed", "Retired", "Government employee", "Private job"]
RELIGION = ["Sikh", "Hindu"]
ROOMS = ["101", "102", "103", "104", "105", "201", "202"]

# Patients the misspelling check looks for (bench/run.py). Present at every scale.
KNOWN_PATIENTS = [
    ("Gurpreet Singh Sandhu", 34, "M"), ("Rakesh Sharma", 45, "M"), ("Mohinder Singh Gill", 62, "M"),
    ("Jaspreet Kaur", 28, "F"), ("Sukhwinder Singh Grewal", 51, "M"), ("Paramjit Kaur Dhillon", 39, "F"),
    ("Sunita Devi Verma", 47, "F"), ("Harbhajan Singh Bains", 70, "M"),
    ("ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ", 46, "M"), ("राजेश कुमार शर्मा", 38, "M"),
]

PATIENT_COLUMNS = ("id", "cr_no", "psy_no", "date", "name", "name_key", "name_words", "age", "sex", "contact_number",
                   "father_name", "category", "department", "city", "district", "state", "country", "filled_by",
                   "assigned_doctor_id", "assigned_doctor_name", "assigned_room", "seen_in_walk_in_on",
                   "marital_status", "occupation", "religion", "has_adl_file", "case_complexity", "file_status",
                   "is_active", "version", "created_at", "updated_at")
VISIT_COLUMNS = ("id", "patient_id", "visit_date", "visit_type", "has_file", "assigned_doctor_id", "room_no",
                 "visit_status", "created_at", "updated_at")


def log(msg: str) -> None:
    print(f"[seed {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------ database

def admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    if not dbname or not dbname.replace("_", "").isalnum():
        raise SystemExit(f"refusing odd database name {dbname!r}")
    return urlunsplit(parts._replace(path="/postgres")), dbname


def recreate_database(url: str) -> None:
    maint, dbname = admin_url(url)
    conn = psycopg2.connect(maint)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()", (dbname,))
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        cur.execute(f'CREATE DATABASE "{dbname}"')
    conn.close()


def flask_env(url: str) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": "false",
                "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-not-for-production"),
                "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt")})
    return env


def flask(args: list[str], url: str) -> str:
    exe = Path(sys.executable).parent / "flask"
    cmd = [str(exe) if exe.exists() else "flask", "--app", "emrs", *args]
    out = subprocess.run(cmd, cwd=APP_DIR, env=flask_env(url), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip()


def create_users(url: str) -> dict:
    users = {}
    for key, email, name, role, extra in [
        ("admin", BENCH_EMAIL, "Bench Admin", "Admin", ["--no-otp"]),
        ("faculty", "faculty@emrs.local", "Dr. Faculty Bench", "Faculty", []),
        ("resident", "resident@emrs.local", "Dr. Resident Bench", "Resident", []),
        ("pwo", "pwo@emrs.local", "PWO Bench", "Psychiatric Welfare Officer", []),
    ]:
        out = flask(["users", "create", "--email", email, "--name", name, "--role", role,
                     "--password", BENCH_PASSWORD, *extra], url)
        users[key] = (int(out.splitlines()[-1]), name)
    return users


# ------------------------------------------------------------------------------ rows

def esc(v) -> str:
    if v is None:
        return "\\N"
    return str(v)


class Generator:
    def __init__(self, seed: int, n: int, vpp: int, users: dict, today: dt.date, n_timeline: int):
        self.rng = random.Random(seed)
        self.n, self.vpp, self.today = n, vpp, today
        self.start = today - dt.timedelta(days=3 * 365)
        self.span_days = (today - self.start).days
        self.users = users
        self.doctors = [users["faculty"], users["resident"]]
        self.filler = users["pwo"][0]
        self.key_cache: dict[str, str] = {}
        self.cr_counter: dict[int, int] = {}
        self.psy_counter: dict[int, int] = {}
        step = max(1, n // max(1, n_timeline))
        self.timeline_ids = set(range(step // 2 + 1, n + 1, step)[:n_timeline]) if n_timeline else set()
        # Known patients: spread over the id range (not all at the newest end).
        self.known_ids = {max(1, (i * 2 + 1) * n // (2 * len(KNOWN_PATIENTS))): kp
                          for i, kp in enumerate(KNOWN_PATIENTS)}
        self.known_ids = {pid: kp for pid, kp in self.known_ids.items() if pid not in self.timeline_ids}
        self.today_visits = 0
        self.n_visits = 0
        self.words_cache: dict[str, str] = {}
        self.native_share = 0.0

    def key(self, name: str) -> str:
        k = self.key_cache.get(name)
        if k is None:
            k = self.key_cache[name] = name_key(name)
        return k

    def words(self, name: str) -> str:
        """name_words as a PostgreSQL array literal for COPY (tokens are [a-z0-9~] and
        Devanagari/Gurmukhi letters only: nothing to quote)."""
        w = self.words_cache.get(name)
        if w is None:
            w = self.words_cache[name] = "{" + ",".join(name_tokens(name)) + "}"
        return w

    def _v(self, word: str) -> str:
        alts = VARIANTS.get(word)
        if alts and self.rng.random() < 0.125:
            return self.rng.choice(alts)
        return word

    def native_name(self, sex: str) -> tuple[str, str]:
        r, c = self.rng.random, self.rng.choice
        if r() < 0.55:  # Sikh naming, in Gurmukhi
            parts = [c(GURMUKHI_FEMALE), "ਕੌਰ"] if sex == "F" else [c(GURMUKHI_MALE), "ਸਿੰਘ"]
            if r() < 0.7:
                parts.append(c(GURMUKHI_SURNAMES))
            return " ".join(parts), "Sikh"
        if sex == "F":  # Hindu naming, in Devanagari
            parts = [c(DEVANAGARI_FEMALE)] + (["देवी"] if r() < 0.2 else [])
        else:
            parts = [c(DEVANAGARI_MALE)] + (["कुमार"] if r() < 0.3 else [])
        parts.append(c(DEVANAGARI_SURNAMES))
        return " ".join(parts), "Hindu"

    def name(self, sex: str) -> tuple[str, str]:
        r = self.rng.random
        c = self.rng.choice
        v = self._v
        if self.native_share and r() < self.native_share:
            return self.native_name(sex)
        if r() < 0.55:  # Sikh naming
            religion = "Sikh"
            if sex == "F":
                parts = [v(c(SIKH_FEMALE)), v("Kaur")]
            else:
                parts = [v(c(SIKH_MALE)), "Singh"]
            if r() < 0.7:
                parts.append(v(c(SIKH_SURNAMES)))
        else:
            religion = "Hindu"
            if sex == "F":
                parts = [v(c(HINDU_FEMALE))]
                x = r()
                if x < 0.2:
                    parts.append("Devi")
                elif x < 0.3:
                    parts.append("Rani")
            else:
                parts = [v(c(HINDU_MALE))]
                if r() < 0.3:
                    parts.append("Kumar")
            if not (len(parts) == 2 and parts[1] == "Devi" and r() < 0.5):
                parts.append(v(c(HINDU_SURNAMES)))
        return " ".join(parts), religion

    def patients(self, first: int, last: int) -> tuple[str, str]:
        """COPY text for patients first..last and their visits."""
        rng = self.rng
        r, ri, c = rng.random, rng.randint, rng.choice
        out_p, out_v = [], []
        n, span = self.n, self.span_days
        start = self.start
        for pid in range(first, last + 1):
            # Registration date spreads evenly over 3 years (ids follow registration order).
            day_off = min(span, int((pid - 1) * span / n))
            reg_day = start + dt.timedelta(days=day_off)
            created = dt.datetime(reg_day.year, reg_day.month, reg_day.day, 3, 30, tzinfo=dt.timezone.utc) + \
                dt.timedelta(seconds=ri(0, 8 * 3600))
            year = reg_day.year
            known = self.known_ids.get(pid)
            if known:
                name, age, sex = known
                religion = "Sikh" if " Singh" in name or " Kaur" in name or "ਸਿੰਘ" in name else "Hindu"
            else:
                sex = "M" if r() < 0.55 else ("F" if r() < 0.99 else "Other")
                name, religion = self.name("F" if sex == "F" else "M")
                age = ri(14, 85)
            self.cr_counter[year] = cr = self.cr_counter.get(year, 0) + 1
            psy = None
            if r() < 0.3:
                self.psy_counter[year] = p = self.psy_counter.get(year, 0) + 1
                psy = f"PSY{year}{p:06d}"
            doc = c(self.doctors) if r() < 0.6 else None
            city, district, state = c(CITIES)
            fields = (pid, f"CR{year}{cr:06d}", psy, reg_day, name, self.key(name), self.words(name), age, sex,
                      f"{ri(6, 9)}{ri(0, 999_999_999):09d}", c(FATHER) + (" Singh" if religion == "Sikh" else ""),
                      c(CATEGORIES), "Psychiatry", city, district, state, "India", self.filler,
                      doc[0] if doc else None, doc[1] if doc else None, c(ROOMS) if doc else None, reg_day,
                      c(MARITAL), c(OCCUPATION), religion, "f", "simple", "none", "t", 1,
                      created.isoformat(), created.isoformat())
            out_p.append("\t".join(map(esc, fields)))
            # Visits: the first on the registration day, follow-ups after it.
            nv = 50 if pid in self.timeline_ids else self.vpp
            days_left = (self.today - reg_day).days
            offs = sorted(ri(1, days_left) for _ in range(nv - 1)) if days_left > 0 else [0] * (nv - 1)
            offs.insert(0, 0)
            today_visit = r() < 0.0005 or (pid in self.timeline_ids and pid % 4 == 0)
            for j, off in enumerate(offs):
                vday = reg_day + dt.timedelta(days=off)
                is_today = today_visit and j == nv - 1
                if is_today:
                    vday = self.today
                    status = "scheduled" if r() < 0.7 else "in_progress"
                    self.today_visits += 1
                else:
                    status = "completed" if r() < 0.93 else "cancelled"
                vdoc = doc or c(self.doctors)
                vcreated = dt.datetime(vday.year, vday.month, vday.day, 3, 45, tzinfo=dt.timezone.utc) + \
                    dt.timedelta(seconds=ri(0, 7 * 3600))
                self.n_visits += 1
                out_v.append("\t".join(map(esc, (
                    self.n_visits, pid, vday, "first_visit" if j == 0 else "follow_up", "f", vdoc[0],
                    c(ROOMS), status, vcreated.isoformat(), vcreated.isoformat()))))
        return "\n".join(out_p) + "\n", "\n".join(out_v) + "\n"


# ------------------------------------------------------------------------------ indexes

def secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """Indexes that no constraint owns (primary key and UNIQUE stay in place)."""
    cur.execute("""SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
                   JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                   LEFT JOIN pg_constraint con ON con.conindid = i.oid
                   WHERE t.relname = %s AND con.oid IS NULL ORDER BY i.relname""", (table,))
    return cur.fetchall()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_bench")
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--visits-per-patient", type=int, default=3)
    ap.add_argument("--timeline-patients", type=int, default=200, help="patients given 50 visits each")
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=20250601)
    ap.add_argument("--native-share", type=float, default=0.07,
                    help="share of names written in Gurmukhi/Devanagari (0 = the earlier Latin-only data)")
    ap.add_argument("--app-dir", default=str(APP_DIR), help="application source (default: this checkout)")
    ap.add_argument("--index-mode", choices=("rebuild", "keep"), default="rebuild",
                    help="rebuild: drop the secondary indexes before COPY and re-create them (same "
                         "definitions, read from the catalogue) after; keep: COPY into the indexed tables")
    ns = ap.parse_args(argv)
    url = ns.database_url
    timings = {}
    t_all = time.perf_counter()

    t = time.perf_counter()
    recreate_database(url)
    flask(["db", "upgrade"], url)
    users = create_users(url)
    timings["create_migrate_users_s"] = round(time.perf_counter() - t, 2)
    log(f"database created, migrated, users {users} ({timings['create_migrate_users_s']} s)")

    today = dt.datetime.now(IST).date()
    gen = Generator(ns.seed, ns.patients, ns.visits_per_patient, users, today,
                    min(ns.timeline_patients, ns.patients))
    gen.native_share = ns.native_share
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute("SET synchronous_commit = off")
    cur.execute("SET maintenance_work_mem = '512MB'")
    dropped = []
    if ns.index_mode == "rebuild":
        for table in ("registered_patient", "patient_visits"):
            for name, ddl in secondary_indexes(cur, table):
                dropped.append((name, ddl))
                cur.execute(f'DROP INDEX "{name}"')
        conn.commit()
        log(f"dropped {len(dropped)} secondary indexes for the load")

    t = time.perf_counter()
    gen_s = copy_s = 0.0
    pcols, vcols = ",".join(PATIENT_COLUMNS), ",".join(VISIT_COLUMNS)
    for first in range(1, ns.patients + 1, ns.chunk):
        last = min(ns.patients, first + ns.chunk - 1)
        t0 = time.perf_counter()
        ptext, vtext = gen.patients(first, last)
        t1 = time.perf_counter()
        cur.copy_expert(f"COPY registered_patient ({pcols}) FROM STDIN", io.StringIO(ptext))
        cur.copy_expert(f"COPY patient_visits ({vcols}) FROM STDIN", io.StringIO(vtext))
        conn.commit()
        t2 = time.perf_counter()
        gen_s += t1 - t0
        copy_s += t2 - t1
        if last == ns.patients or (last // ns.chunk) % 4 == 0:
            log(f"{last:>9,} patients, {gen.n_visits:>10,} visits  (generate {gen_s:.1f} s, COPY {copy_s:.1f} s)")
    timings.update(generate_s=round(gen_s, 1), copy_s=round(copy_s, 1),
                   load_s=round(time.perf_counter() - t, 1))

    t = time.perf_counter()
    cur.execute("SELECT setval(pg_get_serial_sequence('registered_patient', 'id'), %s)", (ns.patients,))
    cur.execute("SELECT setval(pg_get_serial_sequence('patient_visits', 'id'), %s)", (gen.n_visits,))
    for name, counter in (("CR", gen.cr_counter), ("PSY", gen.psy_counter)):
        for year, last in counter.items():
            cur.execute("INSERT INTO number_sequences (name, year, last_value, created_at, updated_at) "
                        "VALUES (%s, %s, %s, now(), now()) ON CONFLICT (name, year) DO UPDATE "
                        "SET last_value = EXCLUDED.last_value", (name, year, last))
    conn.commit()
    index_times = {}
    for name, ddl in dropped:
        t0 = time.perf_counter()
        cur.execute(ddl)
        conn.commit()
        index_times[name] = round(time.perf_counter() - t0, 1)
    if dropped:
        log("indexes rebuilt: " + ", ".join(f"{k} {v}s" for k, v in index_times.items()))
    timings["index_rebuild_s"] = round(time.perf_counter() - t, 1)
    timings["index_times_s"] = index_times

    t = time.perf_counter()
    conn.autocommit = True
    cur.execute("VACUUM ANALYZE registered_patient")
    cur.execute("VACUUM ANALYZE patient_visits")
    cur.execute("ANALYZE")
    timings["vacuum_analyze_s"] = round(time.perf_counter() - t, 1)
    timings["total_s"] = round(time.perf_counter() - t_all, 1)

    cur.execute("SELECT pg_size_pretty(pg_total_relation_size('registered_patient')), "
                "pg_size_pretty(pg_total_relation_size('patient_visits')), pg_size_pretty(pg_database_size(current_database()))")
    sizes = cur.fetchone()
    known = []
    for pid, (name, _age, _sex) in sorted(gen.known_ids.items()):
        cur.execute("SELECT id, name, cr_no FROM registered_patient WHERE id = %s", (pid,))
        known.append(dict(zip(("id", "name", "cr_no"), cur.fetchone())))
    conn.close()
    manifest = {
        "database_url": url, "patients": ns.patients, "visits": gen.n_visits, "seed": ns.seed,
        "index_mode": ns.index_mode, "today_ist": today.isoformat(), "today_open_visits": gen.today_visits,
        "users": {k: {"id": v[0], "name": v[1]} for k, v in users.items()}, "bench_email": BENCH_EMAIL,
        "app_dir": str(APP_DIR), "timeline_patient_ids": sorted(gen.timeline_ids), "known_patients": known,
        "distinct_names": len(gen.key_cache),
        "sizes": {"registered_patient": sizes[0], "patient_visits": sizes[1], "database": sizes[2]},
        "timings": timings,
    }
    out = ROOT / "bench" / "results" / f"seed-{admin_url(url)[1]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(manifest, indent=2))
    log(f"done: {ns.patients:,} patients, {gen.n_visits:,} visits, {gen.today_visits} open visits today; "
        f"sizes {manifest['sizes']}; timings {json.dumps({k: v for k, v in timings.items() if k != 'index_times_s'})}")
    log(f"manifest: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
