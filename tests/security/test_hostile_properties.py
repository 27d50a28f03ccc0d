"""Generated hostile input (hypothesis, derandomized): any JSON value in any field of
any JSON write route, any JSON document as a whole body, any text in any page form
field, any text in any query parameter. The same expectations as the fixed corpus:
no 5xx, no exception text, no markup a browser would run, and a refused request
changes no row. Examples per test: ``EXAMPLES`` (docs/hostile-input.md, "Generated input")."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .hostile_corpus import Case, Payload, form_text, hostile_text, json_values
from .hostile_support import (API_TARGETS, FRESH_BROWSER, FRESH_TOKEN, PAGE_TARGETS, destructive_last,
                              query_keys, report, rule_of, send_api_case, send_get_case,
                              send_page_case, snapshot)

EXAMPLES = {"api_fields": 120, "api_bodies": 50, "page_fields": 80, "queries": 60}


def _settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _keep(endpoint: str, fresh) -> bool:
    return destructive_last(endpoint)[0] == 1 and endpoint not in fresh


API_FIELDS = sorted(((e, f) for e, t in API_TARGETS.items() if t.kind == "json" and _keep(e, FRESH_TOKEN)
                     for f in t.fields), key=repr)
API_JSON = sorted(e for e, t in API_TARGETS.items() if t.kind == "json" and _keep(e, FRESH_TOKEN))
PAGE_FIELDS = sorted(((e, f) for e, t in PAGE_TARGETS.items() if t.kind == "form" and _keep(e, FRESH_BROWSER)
                      for f in t.fields), key=repr)
GET_ENDPOINTS = ["api.patients_list", "api.patients_search", "api.proformas_list", "api.intake_list",
                 "api.prescriptions_list", "api.medicines_list", "api.users_list", "api.icd_search",
                 "api.proformas_visit_trends", "patients.index", "patients.quick_search", "patients.check_duplicates",
                 "clinical.proformas", "intake.index", "prescriptions.medicine_search", "clinical.icd_search",
                 "auth.users", "clinical.proforma_stats", "drafts.banner"]


class _Failures:
    def __init__(self):
        self.items: list[str] = []

    def check(self, case: Case, outcome):
        lines = [f"{case.target} {case.label}: {p}" for p in outcome.problems]
        self.items += lines
        assert not lines, report(lines)


@_settings(EXAMPLES["api_fields"])
@given(target=st.sampled_from(API_FIELDS), value=st.one_of(json_values, hostile_text))
def test_any_json_value_in_any_api_field(app, hostile_world, target, value):
    endpoint, fieldname = target
    case = Case("hypothesis", endpoint, f"{value!r:.60} in {fieldname}",
                {"payload": Payload("hypothesis", "generated", value), "field": fieldname})
    _Failures().check(case, send_api_case(hostile_world, rule_of(app, endpoint), case, snapshot(app)))


@_settings(EXAMPLES["api_bodies"])
@given(endpoint=st.sampled_from(API_JSON), body=json_values)
def test_any_json_document_as_an_api_body(app, hostile_world, endpoint, body):
    case = Case("hypothesis", endpoint, f"body {body!r:.60}", {"json": body})
    _Failures().check(case, send_api_case(hostile_world, rule_of(app, endpoint), case, snapshot(app)))


@_settings(EXAMPLES["page_fields"])
@given(target=st.sampled_from(PAGE_FIELDS), value=form_text)
def test_any_text_in_any_page_form_field(app, hostile_world, target, value):
    endpoint, fieldname = target
    case = Case("hypothesis", endpoint, f"{value!r:.60} in {fieldname}",
                {"payload": Payload("hypothesis", "generated", value), "field": fieldname})
    _Failures().check(case, send_page_case(hostile_world, rule_of(app, endpoint), case, snapshot(app)))


@_settings(EXAMPLES["queries"])
@given(endpoint=st.sampled_from(GET_ENDPOINTS), key=st.sampled_from(query_keys()), value=form_text)
def test_any_text_in_any_query_parameter(app, hostile_world, endpoint, key, value):
    case = Case("hypothesis", endpoint, f"{key}={value!r:.60}", {"query": {key: value}})
    _Failures().check(case, send_get_case(hostile_world, rule_of(app, endpoint, "GET"), case))
