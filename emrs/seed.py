"""Synthetic demo data. Every name and number here is made up."""
from __future__ import annotations


from sqlalchemy import select

from .auth import service as auth_service
from .auth.models import ADMIN, FACULTY, GRADES, JUNIOR, PWO, RESIDENT, SENIOR
from .extensions import db
from .patients.models import Patient, PatientVisit
from .patients.names import name_key
from .timeutil import today_ist

DEMO_PASSWORD = "Demo@2025"
# (e-mail, name, role, designation, grade): Residents print their grade (no designation).
DEMO_USERS = [
    ("admin@emrs.local", "Asha Verma (Demo Admin)", ADMIN, "Department administrator", None),
    ("faculty@emrs.local", "Dr Rajinder Gill (Demo Faculty)", FACULTY, "Associate Professor", None),
    ("resident@emrs.local", "Dr Meenakshi Rao (Demo Resident)", RESIDENT, None, JUNIOR),
    ("senior.resident@emrs.local", "Dr Kabir Bedi (Demo Senior Resident)", RESIDENT, None, SENIOR),
    ("pwo@emrs.local", "Harpreet Sandhu (Demo PWO)", PWO, "Psychiatric Welfare Officer", None),
]
DEMO_PATIENTS = [
    ("CR2025900001", "Mohinder Singh", 46, "M", "9876500001", "Gurdev Singh"),
    ("CR2025900002", "Simran Kaur", 29, "F", "9876500002", "Baldev Singh"),
    ("CR2025900003", "Rakesh Sharma", 35, "M", "9876500003", "Om Prakash Sharma"),
    ("CR2025900004", "Sunita Devi", 52, "F", "9876500004", "Ram Lal"),
    ("CR2025900005", "Aman Preet", 19, "Other", "9876500005", "Jaswant Singh"),
]


def seed_demo() -> list[str]:
    out = []
    users = {}
    for email, name, role, designation, grade in DEMO_USERS:
        user = auth_service.find_by_email(email)
        if user is None:
            user = auth_service.create_user({"email": email, "name": name, "role": role, "grade": grade,
                                             "password": DEMO_PASSWORD, "designation": designation})
            out.append(f"created  {role:<28} {email}")
        else:
            out.append(f"exists   {role:<28} {email}")
        users.setdefault(role, user)
    today = today_ist()
    for i, (cr, name, age, sex, mobile, father) in enumerate(DEMO_PATIENTS):
        if db.session.execute(select(Patient.id).where(Patient.cr_no == cr)).first():
            continue
        p = Patient(cr_no=cr, name=name, name_key=name_key(name), age=age, sex=sex, contact_number=mobile, father_name=father,
                    date=today, department="Psychiatry", category="GEN", city="Chandigarh", state="Chandigarh",
                    country="India", filled_by=users[PWO].id, assigned_doctor_id=users[RESIDENT].id,
                    assigned_doctor_name=users[RESIDENT].name, assigned_room="R-4")
        db.session.add(p)
        db.session.flush()
        if i < 3:
            db.session.add(PatientVisit(patient_id=p.id, visit_date=today, visit_type="first_visit",
                                        visit_status="scheduled", assigned_doctor_id=users[RESIDENT].id,
                                        room_no="R-4"))
    db.session.commit()
    out.append("")
    out.append(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, _name, role, _d, grade in DEMO_USERS:
        out.append(f"  {(GRADES[grade] if grade else role):<28} {email}")
    out.append("Login codes are e-mailed; without EMAIL_HOST they are written to instance/outbox/*.eml")
    return out
