"""JSON answers through orjson (emrs/json_provider.py) parse to what Flask's encoder wrote."""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import uuid

from flask.json.provider import DefaultJSONProvider

from emrs.json_provider import FastJSONProvider


@dataclasses.dataclass
class Point:
    x: int
    label: str


def test_the_answer_parses_as_flasks_did(app):
    value = {"b": 1, "a": [1.5, None, True, "ਹਰਜੀਤ ਸਿੰਘ", "राजेश"], "when": dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.timezone.utc),
             "day": dt.date(2026, 12, 5), "amount": decimal.Decimal("12.50"), "id": uuid.UUID(int=7),
             "point": Point(2, "p"), "nested": {"z": {"y": [], "x": {}}}}
    with app.app_context():
        fast = FastJSONProvider(app).response(value)
        flask = DefaultJSONProvider(app).response(value)
    assert fast.mimetype == flask.mimetype == "application/json"
    assert json.loads(fast.get_data()) == json.loads(flask.get_data())
    assert fast.get_data().endswith(b"\n")
    text = fast.get_data(as_text=True)
    assert text.index('"a"') < text.index('"amount"') < text.index('"b"')  # keys sorted, as before
    assert '"when":"Sat, 05 Dec 2026 10:30:00 GMT"' in text  # dates as Flask writes them


def test_what_orjson_refuses_goes_through_flasks_encoder(app):
    with app.app_context():
        big = FastJSONProvider(app).response({"big": 2 ** 70})
        keys = FastJSONProvider(app).response({10: "ten", 2: "two"})
    assert json.loads(big.get_data()) == {"big": 2 ** 70}
    assert keys.get_data() == b'{"2":"two","10":"ten"}\n'  # sorted as numbers, as json.dumps does


def test_the_app_answers_with_it(client):
    resp = client.get("/health")
    assert resp.get_json()["status"] == "running" and resp.get_data().endswith(b"}\n")
    assert isinstance(client.application.json, FastJSONProvider)


def test_patient_objects_need_no_fallback(client, h, monkeypatch):
    """The patient object's keys are plain strings (a quoted column name such as "date" is a
    str subclass that orjson refuses): the list and the read go through orjson."""
    from ..factories import register_patient
    pid = register_patient(client, h["pwo"])["id"]

    def no_fallback(self, *a, **kw):
        raise AssertionError("fell back to Flask's encoder")
    monkeypatch.setattr(DefaultJSONProvider, "response", no_fallback)
    for path in (f"/api/patients/{pid}", "/api/patients?page=1&limit=20", "/api/patients/search?q=gurpreet"):
        resp = client.get(path, headers=h["resident"])
        assert resp.status_code == 200, (path, resp.get_data()[:200])
    assert resp.get_json()["success"] is True
