"""Phone numbers: E.164 normalization with reasons, masking, time zones."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.phones import (
    Invalid,
    Normalized,
    known_region,
    mask_phone,
    normalize_phone,
    timezone_for,
)

# The first text strategy of a fresh run builds Hypothesis' character tables (~1 s).
RELAXED = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+49 151 12345678", None, "+4915112345678"),
        ("+4915112345678", "US", "+4915112345678"),
        ("015112345678", "DE", "+4915112345678"),
        ("0151 1234 5678", "de", "+4915112345678"),
        ("0049 151 12345678", None, "+4915112345678"),
        ("  +1 (650) 253-0000 ", None, "+16502530000"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+55 11 91234-5678", None, "+5511912345678"),
        ("٠١٥١١٢٣٤٥٦٧٨", "DE", "+4915112345678"),  # Arabic-Indic digits
    ],
)
def test_valid_numbers(raw: str, region: str | None, e164: str) -> None:
    assert normalize_phone(raw, region) == Normalized(e164)


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "DE", "empty"),
        ("   ", None, "empty"),
        ("015112345678", None, "missing country code"),
        ("015112345678", "XX", "missing country code"),
        ("4.91511E+12", "DE", "mangled by a spreadsheet (scientific notation)"),
        ("1-800-FLOWERS", "US", "not a number (contains letters)"),
        ("n/a", None, "not a number (contains letters)"),
        ("+1 650 253 0000 ext. 12", None, "has an extension"),
        ("+999 1234567", None, "invalid country code"),
        ("+49 1", None, "too short"),
        ("+49 151 1234567890123", None, "too long"),
        ("12345", "DE", "invalid for region DE"),
        ("+1 555 000 0000", None, "invalid for region US"),
        ("+" + "1" * 80, None, "too long"),
        ("---", "DE", "not a number"),
    ],
)
def test_invalid_numbers_have_reasons(raw: str, region: str | None, reason: str) -> None:
    assert normalize_phone(raw, region) == Invalid(reason)


def test_known_region() -> None:
    assert known_region("DE") and known_region("us")
    assert not known_region("ZZ") and not known_region("XX")


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+4915112345678", "+49151*****678"),
        ("+16502530000", "+16502***000"),
        ("+12345678", "+12***678"),
        ("+1234567", "+1***567"),
        ("+123456", "*******"),
        ("", ""),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


@RELAXED
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_mask_hides_at_least_three_digits(e164: str) -> None:
    masked = mask_phone(e164)
    assert len(masked) == len(e164)
    assert masked.count("*") >= 3
    assert masked.endswith(e164[-3:])


def test_timezone_for() -> None:
    assert timezone_for("+4915112345678") == ["Europe/Berlin"]
    assert timezone_for("+16502530000") == ["America/Los_Angeles"]
    assert "America/New_York" in timezone_for("+12015550123")
    assert timezone_for("not a number") == []
    assert timezone_for("+999123") == []


@RELAXED
@given(st.text(max_size=80), st.sampled_from([None, "DE", "US", "BR", "IN", "ZZ", "xx", ""]))
def test_normalize_never_raises(raw: str, region: str | None) -> None:
    result = normalize_phone(raw, region)
    if isinstance(result, Normalized):
        assert result.e164.startswith("+") and result.e164[1:].isdigit()
        assert normalize_phone(result.e164, None) == result  # idempotent
    else:
        assert isinstance(result, Invalid) and result.reason


@RELAXED
@given(st.text(alphabet="+0123456789 -()./", max_size=25), st.sampled_from([None, "DE", "US"]))
def test_normalize_never_raises_on_digit_soup(raw: str, region: str | None) -> None:
    assert isinstance(normalize_phone(raw, region), Normalized | Invalid)
    timezone_for(raw)
