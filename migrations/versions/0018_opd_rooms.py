"""The OPD day's rooms: table ``rooms`` (number unique, capacity 1–5, active), ``doctor_rooms``
(a doctor's room for one IST day), ``patient_visits.room_id`` and ``token_no`` (the day's token
in that room), ``registered_patient.assigned_room_id``, and ``users.grade`` (JR or SR for
Residents; existing Residents become JR, the narrower list scope).

Rooms already named in free text (visits' ``room_no``, patients' ``assigned_room``) become room
rows, and the references point at them, so no history is lost.

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _add_room_column(table, column):
    """A nullable reference to ``rooms``. SQLite adds it with a plain ALTER (its REFERENCES clause
    needs no table rebuild, which would drop the search indexes made in raw SQL)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES rooms (id) ON DELETE RESTRICT")
    else:
        op.add_column(table, sa.Column(column, sa.Integer, sa.ForeignKey(
            "rooms.id", ondelete="RESTRICT", name=f"fk_{table}_{column}_rooms")))


def upgrade():
    op.create_table(
        "rooms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_number", sa.String(20), nullable=False),
        sa.Column("number_key", sa.String(20), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("doctor_capacity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("doctor_capacity BETWEEN 1 AND 5", name=op.f("ck_rooms_doctor_capacity_range")),
    )
    op.create_table(
        "doctor_rooms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.UniqueConstraint("user_id", "day", name="uq_doctor_rooms_user_day"),
    )
    op.create_index("ix_doctor_rooms_day_room", "doctor_rooms", ["day", "room_id"])
    _add_room_column("patient_visits", "room_id")
    op.add_column("patient_visits", sa.Column("token_no", sa.Integer))
    op.create_index("ix_patient_visits_visit_date_room_id", "patient_visits", ["visit_date", "room_id"])
    op.create_index("uq_patient_visits_day_room_token", "patient_visits", ["visit_date", "room_id", "token_no"],
                    unique=True)
    _add_room_column("registered_patient", "assigned_room_id")
    op.add_column("users", sa.Column("grade", sa.String(2)))

    bind = op.get_bind()
    bind.execute(sa.text("UPDATE users SET grade = 'JR' WHERE role = 'Resident'"))
    # Free-text rooms of the past become rows (numbers of at most 20 characters after trimming).
    names = set()
    for (value,) in bind.execute(sa.text(
            "SELECT DISTINCT room_no FROM patient_visits WHERE room_no IS NOT NULL "
            "UNION SELECT DISTINCT assigned_room FROM registered_patient WHERE assigned_room IS NOT NULL")):
        value = (value or "").strip()
        if value and len(value) <= 20:
            names.add(value)
    keys = {}
    for name in sorted(names):
        keys.setdefault(name.lower(), name)
    for key, name in keys.items():
        bind.execute(sa.text("INSERT INTO rooms (room_number, number_key, doctor_capacity, is_active) "
                             "VALUES (:n, :k, 1, :t)"), {"n": name, "k": key, "t": True})
    if keys:
        bind.execute(sa.text("UPDATE patient_visits SET room_id = (SELECT id FROM rooms "
                             "WHERE rooms.number_key = lower(trim(patient_visits.room_no))) "
                             "WHERE room_no IS NOT NULL"))
        bind.execute(sa.text("UPDATE registered_patient SET assigned_room_id = (SELECT id FROM rooms "
                             "WHERE rooms.number_key = lower(trim(registered_patient.assigned_room))) "
                             "WHERE assigned_room IS NOT NULL"))
    with op.batch_alter_table("users") as batch:
        batch.create_check_constraint(op.f("ck_users_grade_allowed"),
                                      "grade IS NULL OR (role = 'Resident' AND grade IN ('JR', 'SR'))")


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_grade_allowed"), type_="check")
        batch.drop_column("grade")
    with op.batch_alter_table("registered_patient") as batch:
        batch.drop_column("assigned_room_id")
    op.drop_index("uq_patient_visits_day_room_token", table_name="patient_visits")
    op.drop_index("ix_patient_visits_visit_date_room_id", table_name="patient_visits")
    with op.batch_alter_table("patient_visits") as batch:
        batch.drop_column("token_no")
        batch.drop_column("room_id")
    op.drop_index("ix_doctor_rooms_day_room", table_name="doctor_rooms")
    op.drop_table("doctor_rooms")
    op.drop_table("rooms")
