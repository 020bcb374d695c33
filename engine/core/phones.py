"""Phone numbers: normalize to E.164, mask for logs, map to time zones.

Pure (phonenumbers' metadata only). ``normalize_phone`` never raises on the number: bad input
comes back as ``Invalid(reason)`` with a short reason fit for an import report ("too short",
"invalid for region DE", "missing country code", ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from phonenumbers import timezone as pn_timezone

MAX_INPUT_CHARS = 64
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?\d+")
_LETTERS = re.compile(r"[^\W\d_]")
_EXTENSION = re.compile(r"(?:ext\.?|x|#)\s*\d+", re.IGNORECASE)
_UNKNOWN_ZONE = "Etc/Unknown"

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid country code",
    NumberParseException.NOT_A_NUMBER: "not a number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "invalid country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "invalid length",
}


@dataclass(frozen=True, slots=True)
class Normalized:
    e164: str  # "+4915112345678"


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str


def known_region(region: str) -> bool:
    """True for a two-letter region phonenumbers knows ("DE", "US"; not "ZZ")."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def normalize_phone(raw: str, default_region: str | None) -> Normalized | Invalid:
    """``raw`` as E.164, or why not. ``default_region`` (ISO 3166 alpha-2) applies to
    numbers written without an international prefix; without it such numbers are invalid.
    A leading ``00`` is read as ``+``. Vanity letters and extensions are refused."""
    text = raw.strip()
    if not text:
        return Invalid("empty")
    if len(text) > MAX_INPUT_CHARS:
        return Invalid("too long")
    if _SCIENTIFIC.fullmatch(text):
        return Invalid("mangled by a spreadsheet (scientific notation)")
    if _EXTENSION.search(text):
        return Invalid("has an extension")
    if _LETTERS.search(text):
        return Invalid("not a number (contains letters)")
    if text.startswith("00"):
        text = "+" + text[2:]
    region = default_region.upper() if default_region else None
    if not text.startswith("+") and (region is None or not known_region(region)):
        return Invalid("missing country code")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return Invalid(_PARSE_REASONS.get(exc.error_type, "not a number"))
    if number.extension:
        return Invalid("has an extension")
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        return Invalid(_POSSIBLE_REASONS.get(possible, "invalid length"))
    if not phonenumbers.is_valid_number(number):
        cc_region = phonenumbers.region_code_for_country_code(number.country_code or 0)
        return Invalid(f"invalid for region {cc_region}" if cc_region != "ZZ" else "invalid number")
    return Normalized(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def mask_phone(e164: str) -> str:
    """``+4915112345678`` -> ``+49151*****678``: country code and first digits, last 3.

    At least 3 digits stay hidden and at most 5 lead; fewer than 7 digits: all masked."""
    digits = e164.lstrip("+")
    if len(digits) < 7:
        return "*" * len(e164)
    head = min(5, len(digits) - 6)
    prefix = "+" if e164.startswith("+") else ""
    return prefix + digits[:head] + "*" * (len(digits) - head - 3) + digits[-3:]


def timezone_for(e164: str) -> list[str]:
    """IANA zones the number may be in (several for e.g. US mobiles); [] if unknown."""
    return list(_zones(e164))


@lru_cache(maxsize=65_536)
def _zones(e164: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return ()
    zones = pn_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != _UNKNOWN_ZONE)
