"""/fhir rating scales: the instruments as Questionnaires, each assessment as a
QuestionnaireResponse (the answers) and an Observation (the total) — what an integrator
parses, who may read them, and what never leaks (withdrawn, another patient's)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.fhir import service as fhir

from .conftest import assert_r4, fhir_body, issue

BASE = "http://localhost/fhir"
# PHQ-9 total 15 (moderately severe), item 9 positive; q10 (difficulty) answered, not scored.
PHQ9 = {"q1": 2, "q2": 2, "q3": 2, "q4": 2, "q5": 2, "q6": 2, "q7": 1, "q8": 1, "q9": 1, "q10": 2}
GAD7 = {f"q{i}": 1 for i in range(1, 8)}  # total 7


def _audit(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)
                                   .order_by(AuditLog.id)).scalars())


def _score(client, headers, pid, code, answers, **extra) -> dict:
    resp = client.post(f"/api/patients/{pid}/assessments", headers=headers,
                       json={"instrument": code, "answers": answers, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["assessment"]


@pytest.fixture
def scored(client, h, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    phq = _score(client, h["resident"], pid, "phq9", PHQ9)
    gad = _score(client, h["pwo"], pid, "gad7", GAD7)  # a self-report entered by the PWO: unconfirmed
    return {"pid": pid, "phq9": phq, "gad7": gad, "visit": clinical_patient["visit"]}



def _entries(bundle: dict, kind: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if kind in (None, e["resource"]["resourceType"])]


def _other_patient(client, h) -> int:
    resp = client.post("/api/patients/register-complete", headers=h["pwo"], json={
        "name": "Harpreet Kaur Gill", "age": 34, "sex": "F", "contact_number": "9812345670"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["patient"]["id"]


# ------------------------------------------------------------------ Questionnaire

def test_every_role_reads_the_instruments_as_questionnaires(client, h):
    bundle = fhir_body(client.get("/fhir/Questionnaire", headers=h["pwo"]))
    forms = {r["id"]: r for r in _entries(bundle)}
    assert {"phq9", "gad7"} <= set(forms) and bundle["total"] == len(forms)
    phq = forms["phq9"]
    assert phq["url"] == f"{BASE}/Questionnaire/phq9" and phq["status"] == "active" and phq["version"] == "1"
    assert phq["name"] == "PHQ9" and phq["title"] == "Patient Health Questionnaire-9"
    assert phq["code"] == [{"system": "http://loinc.org", "code": "44249-1",
                            "display": "Patient Health Questionnaire-9"}]
    assert "No permission required" in phq["copyright"]
    assert [i["linkId"] for i in phq["item"]] == [f"q{n}" for n in range(1, 11)]
    q9 = phq["item"][8]
    assert q9["type"] == "choice" and q9["required"] is True and q9["text"].startswith("Thoughts that you would")
    assert [(o["valueCoding"]["code"], o["valueCoding"]["display"]) for o in q9["answerOption"]] == [
        ("0", "Not at all"), ("1", "Several days"), ("2", "More than half the days"), ("3", "Nearly every day")]
    assert q9["answerOption"][3]["valueCoding"]["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 3}]
    q10 = phq["item"][9]  # the difficulty question: asked, not required, adds nothing to the total
    assert q10["required"] is False and "extension" not in q10["answerOption"][0]["valueCoding"]
    assert q10["answerOption"][0]["valueCoding"]["display"] == "Not difficult at all"
    assert forms["gad7"]["code"][0]["code"] == "69737-5"
    # Every fullUrl reads back the same resource, for a welfare officer too (no patient data in it).
    for entry in bundle["entry"]:
        one = fhir_body(client.get(entry["fullUrl"].replace("http://localhost", ""), headers=h["pwo"]))
        assert one == entry["resource"]


@pytest.mark.parametrize("path", ["/fhir/Questionnaire/nope", "/fhir/Questionnaire/PHQ9",
                                  "/fhir/Questionnaire/" + "x" * 3000])
def test_unknown_questionnaire_is_404(client, h, path):
    problem = issue(client.get(path, headers=h["resident"]), 404)
    assert problem["code"] == "not-found" and len(problem["diagnostics"]) < 80


def test_questionnaires_need_a_token(client):
    assert issue(client.get("/fhir/Questionnaire"), 401)["code"] == "login"


# ------------------------------------------------------------------ QuestionnaireResponse and Observation

def test_each_assessment_is_a_questionnaire_response_with_its_answers(client, h, users, scored):
    pid, phq = scored["pid"], scored["phq9"]
    bundle = fhir_body(client.get("/fhir/QuestionnaireResponse", query_string={"patient": f"Patient/{pid}"},
                                  headers=h["faculty"]))
    answers = {r["id"]: r for r in _entries(bundle)}
    assert bundle["total"] == 2 and set(answers) == {str(phq["id"]), str(scored["gad7"]["id"])}
    qr = answers[str(phq["id"])]
    assert qr["questionnaire"] == f"{BASE}/Questionnaire/phq9|1"
    assert qr["status"] == "completed" and qr["subject"] == {"reference": f"Patient/{pid}"}
    assert qr["encounter"] == {"reference": f"Encounter/{scored['visit']['id']}"}
    assert qr["authored"].startswith(phq["created_at"][:19])
    got = {i["linkId"]: i["answer"][0]["valueCoding"] for i in qr["item"]}
    assert {k: int(v["code"]) for k, v in got.items()} == PHQ9
    assert got["q9"]["display"] == "Several days" and got["q10"]["display"] == "Very difficult"
    # The codes are those the Questionnaire offers for the item.
    form = fhir_body(client.get("/fhir/Questionnaire/phq9", headers=h["faculty"]))
    offered = {o["valueCoding"]["system"] for o in form["item"][8]["answerOption"]}
    assert got["q9"]["system"] in offered
    rows = [r for r in _audit("fhir_search") if r.details.get("resource") == "QuestionnaireResponse"]
    assert [(r.patient_id, r.user_id, r.details["matches"]) for r in rows] == [(pid, users["faculty"].id, 2)]


def test_each_total_is_an_observation(client, h, scored):
    pid, phq, gad = scored["pid"], scored["phq9"], scored["gad7"]
    bundle = fhir_body(client.get("/fhir/Observation", query_string={"patient": pid}, headers=h["resident"]))
    obs = {r["id"]: r for r in _entries(bundle)}
    o = obs[str(phq["id"])]
    assert o["status"] == "final" and o["valueInteger"] == 15
    assert o["category"][0]["coding"][0]["code"] == "survey"
    assert o["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "44261-6", "display": "Patient Health Questionnaire-9 total score"},
        {"system": fhir.INSTRUMENT_SYSTEM, "code": "phq9", "display": "Patient Health Questionnaire-9"}]
    assert o["effectiveDateTime"] == phq["assessed_on"] and o["interpretation"] == [{"text": "Moderately severe"}]
    assert o["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{phq['id']}"}]
    assert o["subject"] == {"reference": f"Patient/{pid}"}
    # The welfare officer's entry of the patient's GAD-7 waits for a clinician: preliminary, then final.
    g = obs[str(gad["id"])]
    assert g["status"] == "preliminary" and g["valueInteger"] == 7 and g["code"]["coding"][0]["code"] == "70274-6"
    assert client.post(f"/api/assessments/{gad['id']}/confirm", headers=h["faculty"]).status_code == 200
    assert fhir_body(client.get(f"/fhir/Observation/{gad['id']}", headers=h["resident"]))["status"] == "final"


def test_every_full_url_reads_back_the_same_resource(client, h, users, scored):
    pid = scored["pid"]
    for kind in ("QuestionnaireResponse", "Observation"):
        bundle = fhir_body(client.get(f"/fhir/{kind}", query_string={"patient": pid}, headers=h["admin"]))
        for entry in bundle["entry"]:
            assert fhir_body(client.get(entry["fullUrl"].replace("http://localhost", ""),
                                        headers=h["admin"])) == entry["resource"]
    reads = _audit("fhir_read")
    assert len(reads) == 4 and {(r.patient_id, r.user_id, r.entity) for r in reads} == {
        (pid, users["admin"].id, "assessments")}


def test_welfare_officer_is_refused_scores_on_fhir(client, h, scored):
    pid, aid = scored["pid"], scored["gad7"]["id"]  # even the self-report the PWO entered
    expected = ("Access denied. Required roles: Admin, Faculty, Resident. "
                "Your role: Psychiatric Welfare Officer")
    for path in (f"/fhir/QuestionnaireResponse?patient={pid}", f"/fhir/Observation?patient={pid}",
                 f"/fhir/QuestionnaireResponse/{aid}", f"/fhir/Observation/{aid}", f"/fhir/Patient/{pid}/$everything"):
        problem = issue(client.get(path, headers=h["pwo"]), 403)
        assert problem == {"severity": "error", "code": "forbidden", "diagnostics": expected}, path
    assert not [r for r in _audit("fhir_search") + _audit("fhir_read") + _audit("fhir_everything")
                if r.entity == "assessments" or r.action == "fhir_everything"]


def test_another_patients_scores_do_not_leak(client, h, scored):
    other = _other_patient(client, h)
    for kind in ("QuestionnaireResponse", "Observation"):
        bundle = fhir_body(client.get(f"/fhir/{kind}", query_string={"patient": other}, headers=h["resident"]))
        assert bundle["total"] == 0 and bundle["entry"] == []
    mine = _score(client, h["resident"], other, "gad7", {f"q{i}": 0 for i in range(1, 8)})
    bundle = fhir_body(client.get("/fhir/Observation", query_string={"patient": other}, headers=h["resident"]))
    assert [(r["id"], r["subject"]["reference"], r["valueInteger"]) for r in _entries(bundle)] == [
        (str(mine["id"]), f"Patient/{other}", 0)]
    everything = fhir_body(client.get(f"/fhir/Patient/{other}/$everything", headers=h["resident"]))
    ids = {(r["resourceType"], r["id"]) for r in _entries(everything)}
    assert ("Observation", str(scored["phq9"]["id"])) not in ids
    assert ("QuestionnaireResponse", str(mine["id"])) in ids
    assert [r["id"] for r in _entries(everything, "Questionnaire")] == ["gad7"]


def test_withdrawn_assessments_are_absent(client, h, scored):
    pid, phq = scored["pid"], scored["phq9"]
    resp = client.delete(f"/api/assessments/{phq['id']}", headers=h["resident"],
                         json={"reason": "Entered for the wrong patient"})
    assert resp.status_code == 200, resp.get_json()
    for kind in ("QuestionnaireResponse", "Observation"):
        bundle = fhir_body(client.get(f"/fhir/{kind}", query_string={"patient": pid}, headers=h["resident"]))
        assert [r["id"] for r in _entries(bundle)] == [str(scored["gad7"]["id"])]
        assert issue(client.get(f"/fhir/{kind}/{phq['id']}", headers=h["resident"]), 404)["code"] == "not-found"
    everything = fhir_body(client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"]))
    assert str(phq["id"]) not in {r["id"] for r in _entries(everything, "Observation")}
    assert [r["id"] for r in _entries(everything, "Questionnaire")] == ["gad7"]  # PHQ-9 no longer answered


@pytest.mark.parametrize("path", ["/fhir/Observation/999999", "/fhir/Observation/1-1", "/fhir/Observation/abc",
                                  "/fhir/QuestionnaireResponse/999999", "/fhir/QuestionnaireResponse/%C2%B2"])
def test_unknown_or_malformed_ids_are_404(client, h, path):
    assert issue(client.get(path, headers=h["resident"]), 404)["code"] == "not-found"


def test_everything_includes_questionnaires_once_and_the_scores(client, h, users, scored):
    pid = scored["pid"]
    _score(client, h["resident"], pid, "phq9", {**PHQ9, "q1": 0})  # a second PHQ-9: its Questionnaire once
    bundle = fhir_body(client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"]))
    kinds = [r["resourceType"] for r in _entries(bundle)]
    assert kinds == ["Patient", "Encounter", "Condition", "Condition", "MedicationRequest", "MedicationRequest",
                     "Questionnaire", "Questionnaire", "QuestionnaireResponse", "QuestionnaireResponse",
                     "QuestionnaireResponse", "Observation", "Observation", "Observation"]
    assert [r["id"] for r in _entries(bundle, "Questionnaire")] == ["phq9", "gad7"]
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(full_urls) == len(kinds)
    refs = []
    for r in _entries(bundle):
        refs += [r[k]["reference"] for k in ("subject", "encounter") if k in r]
        refs += [x["reference"] for x in r.get("derivedFrom", [])]
        if "questionnaire" in r:  # a canonical (url|version): the url is an entry of the Bundle
            assert r["questionnaire"].split("|")[0] in full_urls
    assert "QuestionnaireResponse/" in " ".join(refs)
    assert all(f"{BASE}/{ref}" in full_urls for ref in refs)
    rows = _audit("fhir_everything")
    assert [(r.patient_id, r.user_id) for r in rows] == [(pid, users["resident"].id)]
    assert rows[0].details == {"Encounter": 1, "Condition": 2, "MedicationRequest": 2, "QuestionnaireResponse": 3,
                               "Observation": 3}


def test_audit_rows_carry_no_answers(client, h, scored):
    pid = scored["pid"]
    for path in (f"/fhir/QuestionnaireResponse?patient={pid}", f"/fhir/Patient/{pid}/$everything",
                 f"/fhir/QuestionnaireResponse/{scored['phq9']['id']}"):
        fhir_body(client.get(path, headers=h["admin"]))
    for row in _audit("fhir_search") + _audit("fhir_everything") + _audit("fhir_read"):
        text = str(row.details)
        assert "Several days" not in text and "q9" not in text and "Moderately" not in text


def test_capability_statement_lists_the_rating_scale_types(client):
    body = fhir_body(client.get("/fhir/metadata"))
    by_type = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert [i["code"] for i in by_type["Questionnaire"]["interaction"]] == ["read", "search-type"]
    assert "searchParam" not in by_type["Questionnaire"]
    for kind in ("QuestionnaireResponse", "Observation"):
        assert [i["code"] for i in by_type[kind]["interaction"]] == ["read", "search-type"]
        assert [(p["name"], p["type"]) for p in by_type[kind]["searchParam"]] == [("patient", "reference")]


def test_bad_search_parameters_are_400(client, h):
    for path in ("/fhir/Observation", "/fhir/QuestionnaireResponse?patient=abc", "/fhir/Observation?code=phq9",
                 "/fhir/Questionnaire?name=PHQ9", "/fhir/Questionnaire?_count=0"):
        assert issue(client.get(path, headers=h["resident"]), 400)["code"] == "invalid", path


# ------------------------------------------------------------------ every shipped instrument

def _worked_example(inst):
    """The instrument's highest-scoring worked example (docs/instruments.md): every item answered,
    flags and subscales as published."""
    return max(inst.examples, key=lambda e: (e["total"], len(e.get("flags") or [])))


@pytest.mark.parametrize("code", ["phq9", "gad7", "phqa", "audit", "cgi_s", "cgi_i", "hamd17", "ymrs", "bprs18"])
def test_every_instrument_validates_as_fhir(client, h, clinical_patient, code):
    from emrs.assessments import instruments as catalogue
    inst = catalogue.get(code)
    example = _worked_example(inst)
    pid = clinical_patient["patient"]["id"]
    row = _score(client, h["resident"], pid, code, example["answers"])
    assert row["total"] == example["total"] and row["severity"] == example["band"]
    aid = str(row["id"])

    form = fhir_body(client.get(f"/fhir/Questionnaire/{fhir.questionnaire_id(code)}", headers=h["resident"]))
    qr = fhir_body(client.get(f"/fhir/QuestionnaireResponse/{aid}", headers=h["resident"]))
    assert qr["questionnaire"] == f"{form['url']}|{form['version']}"
    offered = {i["linkId"]: {(o["valueCoding"]["system"], o["valueCoding"]["code"]) for o in i["answerOption"]}
               for i in form["item"]}
    got = {i["linkId"]: i["answer"][0]["valueCoding"] for i in qr["item"]}
    assert {k: int(v["code"]) for k, v in got.items()} == {k: int(v) for k, v in example["answers"].items()}
    for link_id, coding in got.items():  # every answer is one the Questionnaire offers for its item
        assert (coding["system"], coding["code"]) in offered[link_id], (code, link_id)

    obs = fhir_body(client.get(f"/fhir/Observation/{aid}", headers=h["resident"]))
    assert obs["valueInteger"] == example["total"] and obs["status"] == "final"
    assert obs["interpretation"] == [{"text": example["band"]}]
    codings = obs["code"]["coding"]
    assert codings[-1] == {"system": fhir.INSTRUMENT_SYSTEM, "code": code, "display": inst.name}
    loinc = (inst.loinc or {}).get("total")
    assert [c["code"] for c in codings if c["system"] == "http://loinc.org"] == ([loinc] if loinc else [])
    # Subscales (AUDIT's WHO domains, HAM-D6) are components, coded per instrument; none otherwise.
    components = {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in obs.get("component", [])}
    assert components == (example.get("subscales") or {})
    for c in obs.get("component", []):
        assert c["code"]["coding"][0]["system"] == f"{fhir.INSTRUMENT_SYSTEM}/{code}/subscale"

    bundle = fhir_body(client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"]))
    for entry in bundle["entry"]:  # each entry on its own too (the Bundle was validated as a whole)
        assert_r4(entry["resource"])
    ids = {(r["resourceType"], r["id"]) for r in _entries(bundle)}
    assert {("Questionnaire", form["id"]), ("QuestionnaireResponse", aid), ("Observation", aid)} <= ids
