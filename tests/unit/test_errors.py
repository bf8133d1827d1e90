"""The error hierarchy: stable codes, structured details, and messages that name the facts."""

from __future__ import annotations

import pytest

from leadtocash.errors import (
    ConcurrencyConflict,
    DuplicateKey,
    FieldError,
    LeadToCashError,
    StorageError,
    ValidationError,
)


def test_a_validation_error_needs_at_least_one_field() -> None:
    with pytest.raises(ValueError, match="at least one FieldError"):
        ValidationError([])


def test_a_validation_error_lists_every_field_in_message_and_details() -> None:
    error = ValidationError(
        [FieldError("phone", "field.phone", "bad"), FieldError("email", "field.email", "bad")],
        code="lead.invalid",
    )
    assert (error.code, error.paths) == ("lead.invalid", ("phone", "email"))
    assert str(error) == "[lead.invalid] invalid input (phone: bad; email: bad)"
    assert error.details == {
        "fields": [
            {"path": "phone", "code": "field.phone", "message": "bad"},
            {"path": "email", "code": "field.email", "message": "bad"},
        ]
    }
    assert ValidationError.single("x", "c", "m").code == "validation.invalid"


def test_a_duplicate_key_names_the_key_and_the_record_holding_it() -> None:
    error = DuplicateKey("customer", "uscc:91350100M000100Y43", "c7")
    assert isinstance(error, StorageError) and not error.retryable
    assert error.code == "storage.duplicate_key"
    assert (error.kind, error.key, error.existing_id) == (
        "customer",
        "uscc:91350100M000100Y43",
        "c7",
    )
    assert error.details == {
        "kind": "customer",
        "key": "uscc:91350100M000100Y43",
        "existing_id": "c7",
    }
    assert error.message == "customer key 'uscc:91350100M000100Y43' already used by c7"
    unknown = DuplicateKey("lead", "name:星辰", None)
    assert unknown.message == "lead key 'name:星辰' already used by another record"


def test_only_transient_storage_errors_are_retryable() -> None:
    assert ConcurrencyConflict("changed").retryable
    assert not LeadToCashError("x").retryable
    assert LeadToCashError("x", code="custom.code").code == "custom.code"
