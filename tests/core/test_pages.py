"""emrs/pages.py: the helpers every list page and form uses."""
from __future__ import annotations

import pytest

from emrs.errors import Conflict, ValidationError, field_error
from emrs.pages import error_messages, form_errors, page_number


@pytest.mark.parametrize("raw, page", [
    (None, 1), ("1", 1), ("7", 7), ("99999", 99999), ("100000", 1), ("0", 1), ("-3", 1), ("abc", 1),
    ("²", 1), ("٣", 1), (" 5", 1), ("5" * 5000, 1),
])
def test_page_number(app, raw, page):
    with app.test_request_context("/audit/", query_string={} if raw is None else {"page": raw}):
        assert page_number() == page


FIELDS = ValidationError("Validation failed", errors=[field_error("name", "Name is required"),
                                                      field_error("age", "Age must be a number"),
                                                      field_error("name", "Name is too long")])
SPECIFIC = ValidationError("Missing required fields", errors=[field_error("diagnosis", "diagnosis is required")])
PLAIN = Conflict("Someone else saved this record meanwhile")


def test_form_errors_put_each_message_by_its_field():
    assert form_errors(FIELDS) == ({"name": ["Name is required", "Name is too long"],
                                    "age": ["Age must be a number"]}, [])
    assert form_errors(PLAIN) == ({}, ["Someone else saved this record meanwhile"])
    assert form_errors(SPECIFIC) == ({"diagnosis": ["diagnosis is required"]}, [])
    # keep_summary: a message that says more than "Validation failed" stays on top too
    assert form_errors(SPECIFIC, keep_summary=True) == ({"diagnosis": ["diagnosis is required"]},
                                                        ["Missing required fields"])
    assert form_errors(FIELDS, keep_summary=True)[1] == []


def test_error_messages_list_the_field_messages_or_the_refusal():
    assert error_messages(FIELDS) == ["Name is required", "Age must be a number", "Name is too long"]
    assert error_messages(PLAIN) == ["Someone else saved this record meanwhile"]
