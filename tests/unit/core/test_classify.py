from __future__ import annotations

import orjson
import pytest

from engine.core.classify import (
    Accepted,
    Ambiguous,
    Refused,
    TransportFailure,
    classify_response,
    classify_status_error,
    classify_transport,
)
from engine.core.codes import (
    GATEWAY_TEXT_RULES,
    HTTP_RULES,
    REGISTRY,
    Action,
    PauseScope,
    Rule,
    rule_for_code,
)

A = Action
CH, PF, TP, CP = PauseScope.CHANNEL, PauseScope.PORTFOLIO, PauseScope.TEMPLATE, PauseScope.CAMPAIGN

# code -> (action, pause scope, timed pause?, suppress?)  -- reference §4, every row.
EXPECTED: dict[int, tuple[Action, PauseScope | None, bool, bool]] = {
    0: (A.PAUSE, CH, False, False),
    1: (A.RETRY, None, False, False),
    2: (A.RETRY, None, False, False),
    3: (A.PAUSE, CH, False, False),
    4: (A.PAUSE, CH, True, False),
    10: (A.PAUSE, CH, False, False),
    100: (A.FAIL_PAYLOAD, None, False, False),
    200: (A.PAUSE, CH, False, False),
    250: (A.PAUSE, CH, False, False),
    299: (A.PAUSE, CH, False, False),
    368: (A.PAUSE, PF, False, False),
    470: (A.FAIL_PAYLOAD, None, False, False),
    80007: (A.PAUSE, CH, True, False),
    130403: (A.FAIL_RECIPIENT, None, False, False),
    130429: (A.THROTTLE, None, False, False),
    130472: (A.FAIL_RECIPIENT, None, False, False),
    130497: (A.FAIL_RECIPIENT, None, False, False),
    131000: (A.RETRY, None, False, False),
    131005: (A.PAUSE, CH, False, False),
    131008: (A.FAIL_PAYLOAD, None, False, False),
    131009: (A.FAIL_PAYLOAD, None, False, False),
    131016: (A.RETRY, None, False, False),
    131021: (A.FAIL_RECIPIENT, None, False, False),
    131026: (A.FAIL_RECIPIENT, None, False, False),
    131031: (A.PAUSE, PF, False, False),
    131037: (A.PAUSE, CH, False, False),
    131042: (A.PAUSE, PF, False, False),
    131045: (A.PAUSE, CH, False, False),
    131047: (A.FAIL_PAYLOAD, None, False, False),
    131048: (A.PAUSE, CH, False, False),
    131049: (A.FAIL_RECIPIENT, None, False, False),
    131050: (A.FAIL_RECIPIENT, None, False, True),
    131051: (A.FAIL_PAYLOAD, None, False, False),
    131052: (A.FAIL_RECIPIENT, None, False, False),
    131053: (A.PAUSE, TP, False, False),
    131055: (A.FAIL_PAYLOAD, None, False, False),
    131056: (A.RETRY_RECIPIENT, None, False, False),
    131057: (A.PAUSE, CH, True, False),
    131063: (A.PAUSE, CP, False, False),
    131064: (A.PAUSE, PF, False, False),
    132000: (A.FAIL_PAYLOAD, None, False, False),
    132001: (A.PAUSE, TP, False, False),
    132005: (A.FAIL_PAYLOAD, None, False, False),
    132007: (A.PAUSE, TP, False, False),
    132012: (A.FAIL_PAYLOAD, None, False, False),
    132015: (A.PAUSE, TP, False, False),
    132016: (A.PAUSE, TP, False, False),
    132018: (A.FAIL_PAYLOAD, None, False, False),
    132068: (A.PAUSE, CP, False, False),
    132069: (A.PAUSE, CP, True, False),
    133004: (A.RETRY, None, False, False),
    133010: (A.PAUSE, CH, False, False),
    134011: (A.PAUSE, CH, False, False),
    134100: (A.FAIL_PAYLOAD, None, False, False),
    134101: (A.RETRY, None, False, False),
    134102: (A.PAUSE, CP, False, False),
    135000: (A.RETRY, None, False, False),
}


def meta_error(code: int, message: str = "(#x) something", details: str = "details") -> bytes:
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "error_subcode": 2494055,
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        }
    )


def test_every_registry_code_has_an_expectation() -> None:
    assert set(REGISTRY) <= set(EXPECTED)
    assert set(EXPECTED) - set(REGISTRY) == {200, 250, 299}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_sync_error_by_code(code: int) -> None:
    action, scope, timed, suppress = EXPECTED[code]
    # The HTTP status is advisory: the code decides, whatever status came with it.
    for http_status in (400, 403, 429, 500):
        out = classify_response(http_status, meta_error(code))
        assert isinstance(out, Refused)
        assert (out.action, out.scope, out.pause_s is not None, out.suppress) == (
            action,
            scope,
            timed,
            suppress,
        )
        assert out.code == code and out.code_label == str(code)
        assert out.reason == f"meta_{code}"
        assert out.http_status == http_status
        assert not out.unknown_code


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_async_error_by_code(code: int) -> None:
    action, scope, timed, suppress = EXPECTED[code]
    out = classify_status_error(code, detail="x")
    assert (out.action, out.scope, out.pause_s is not None, out.suppress) == (
        action,
        scope,
        timed,
        suppress,
    )
    assert out.http_status is None


def test_specific_rule_parameters() -> None:
    assert classify_status_error(131049).retry_after_min_s >= 24 * 3600
    assert classify_response(400, meta_error(131057)).pause_s == pytest.approx(60.0)
    assert rule_for_code(1) is not None and rule_for_code(1).max_attempts == 3  # type: ignore[union-attr]
    assert rule_for_code(135000).max_attempts == 2  # type: ignore[union-attr]
    assert rule_for_code(134101).retry_after_min_s == 600  # type: ignore[union-attr]
    assert rule_for_code(300) is None and rule_for_code(199) is None


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        Rule(action=A.PAUSE, title="x")
    with pytest.raises(ValueError):
        Rule(action=A.RETRY, title="x", scope=CH)
    with pytest.raises(ValueError):
        Rule(action=A.RETRY, title="x", pause_s=5)
    with pytest.raises(ValueError):
        Rule(action=A.RETRY, title="x", max_attempts=0)


# --- success ------------------------------------------------------------------------------


SUCCESS = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "+15551234567", "wa_id": "15551234567"}],
    "messages": [{"id": "wamid.HBgL123", "message_status": "accepted"}],
}


@pytest.mark.parametrize("as_bytes", [True, False])
def test_success(as_bytes: bool) -> None:
    body: object = orjson.dumps(SUCCESS) if as_bytes else SUCCESS
    assert classify_response(200, body) == Accepted("wamid.HBgL123", "accepted", "15551234567")


def test_success_held_and_defaults() -> None:
    held = classify_response(
        200, {"messages": [{"id": "wamid.X", "message_status": "held_for_quality_assessment"}]}
    )
    assert isinstance(held, Accepted) and held.held and held.wa_id is None
    plain = classify_response(201, '{"messages":[{"id":"wamid.Y"}]}')
    assert plain == Accepted("wamid.Y", "accepted", None)
    assert not plain.held  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{}",
        {"messages": []},
        {"messages": [{"id": ""}]},
        {"messages": "x"},
        None,
        [1],
    ],
)
def test_2xx_without_wamid_is_ambiguous(body: object) -> None:
    out = classify_response(200, body)
    assert isinstance(out, Ambiguous)
    assert out.action is A.UNKNOWN and out.http_status == 200


def test_2xx_carrying_an_error_is_classified_by_code() -> None:
    out = classify_response(200, meta_error(131026))
    assert isinstance(out, Refused) and out.action is A.FAIL_RECIPIENT


# --- 360dialog and HTTP-only errors ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"error": "You have exceeded the endpoint rate limit."},
        {"error": {"message": "You have exceeded the endpoint rate limit."}},
        {
            "meta": {
                "success": False,
                "http_code": 400,
                "developer_message": "You have exceeded the endpoint rate limit.",
            }
        },
        b"You have exceeded the endpoint rate limit.",
        {"message": "You have exceeded the ENDPOINT RATE LIMIT"},
    ],
)
def test_gateway_rate_limit_text_in_every_shape(body: object) -> None:
    out = classify_response(400, body)
    assert isinstance(out, Refused)
    assert out.action is A.THROTTLE and out.reason == "d360_endpoint_rate_limit"
    assert out.code is None and out.code_label == "d360_endpoint_rate_limit"


def test_gateway_lack_of_payment_and_disabled() -> None:
    pay = classify_response(
        400, {"error": "Could not send message due to lack of payment. Please check your invoices."}
    )
    assert isinstance(pay, Refused) and (pay.action, pay.scope) == (A.PAUSE, PF)
    off = classify_response(
        400, {"meta": {"details": ["Your WhatsApp for Business API has been disabled"]}}
    )
    assert isinstance(off, Refused) and (off.action, off.scope) == (A.PAUSE, CH)
    assert off.reason == "d360_disabled"


def test_text_never_overrides_a_meta_code() -> None:
    out = classify_response(
        400, meta_error(131026, message="endpoint rate limit disabled lack of payment")
    )
    assert isinstance(out, Refused) and out.action is A.FAIL_RECIPIENT


def test_only_three_phrases_exist() -> None:
    assert [p for p, _, _ in GATEWAY_TEXT_RULES] == [
        "endpoint rate limit",
        "lack of payment",
        "disabled",
    ]


@pytest.mark.parametrize(
    ("status", "action", "scope"),
    [
        (401, A.PAUSE, CH),
        (403, A.PAUSE, CH),
        (404, A.PAUSE, CH),
        (408, A.RETRY, None),
        (413, A.FAIL_PAYLOAD, None),
        (429, A.THROTTLE, None),
        (500, A.RETRY, None),
        (502, A.RETRY, None),
        (503, A.THROTTLE, None),
    ],
)
@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", {"error": "Invalid api_key"}, None])
def test_http_status_fallback(
    status: int, action: Action, scope: PauseScope | None, body: object
) -> None:
    out = classify_response(status, body)
    assert isinstance(out, Refused)
    assert (out.action, out.scope, out.reason) == (action, scope, f"http_{status}")
    assert not out.unknown_code
    assert status in HTTP_RULES


def test_504_is_ambiguous_other_5xx_retry_bounded() -> None:
    assert isinstance(classify_response(504, b""), Ambiguous)
    out = classify_response(599, b"")
    assert isinstance(out, Refused) and out.action is A.RETRY
    assert out.max_attempts == 3 and out.unknown_code


def test_unknown_4xx_and_odd_statuses() -> None:
    out = classify_response(418, b"teapot")
    assert isinstance(out, Refused) and out.action is A.FAIL_PAYLOAD and out.unknown_code
    assert out.detail == "teapot"
    assert isinstance(classify_response(302, b""), Ambiguous)


# --- unknown codes ------------------------------------------------------------------------


def test_unknown_meta_code_fails_conservatively_and_is_flagged() -> None:
    out = classify_response(400, meta_error(987654))
    assert isinstance(out, Refused)
    assert out.action is A.FAIL_RECIPIENT and out.unknown_code and out.code == 987654
    assert out.code_label == "987654"


def test_unknown_meta_code_with_5xx_retries_bounded() -> None:
    out = classify_response(500, meta_error(987654))
    assert isinstance(out, Refused) and out.action is A.RETRY and out.max_attempts == 3


@pytest.mark.parametrize("code", [None, "abc", True])
def test_status_error_without_usable_code(code: object) -> None:
    out = classify_status_error(code)  # type: ignore[arg-type]
    assert out.action is A.FAIL_RECIPIENT and out.unknown_code


def test_code_as_string_and_other_envelopes() -> None:
    assert classify_status_error("131050").suppress
    out = classify_response(400, {"errors": [{"code": 131056, "title": "pair rate limit"}]})
    assert isinstance(out, Refused) and out.action is A.RETRY_RECIPIENT
    out = classify_response(400, {"error": {"code": "130429", "message": "Rate limit hit"}})
    assert isinstance(out, Refused) and out.action is A.THROTTLE


def test_detail_is_clipped_and_includes_details() -> None:
    out = classify_response(400, meta_error(100, message="m" * 1000))
    assert isinstance(out, Refused) and len(out.detail) <= 300
    out = classify_response(400, meta_error(100, message="Invalid parameter", details="to is bad"))
    assert "to is bad" in out.detail  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00",
        "[]",
        {"error": None},
        {"error": 5},
        {"error": []},
        {"errors": ["x"]},
        {"meta": "x"},
        {"error": {"code": {"nested": 1}}},
        {"error": {"code": 1.5}},
        memoryview(b'{"error": {"code": 2}}'),
        bytearray(b'{"error": {"code": 2}}'),
    ],
)
def test_weird_bodies_never_raise(body: object) -> None:
    out = classify_response(400, body)
    assert isinstance(out, Refused | Ambiguous)


# --- transport ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (TransportFailure.CONNECT_FAILED, A.RETRY),
        (TransportFailure.TIMEOUT_BEFORE_SEND, A.RETRY),
        (TransportFailure.TIMEOUT_AFTER_SEND, A.UNKNOWN),
        (TransportFailure.RESET_AFTER_SEND, A.UNKNOWN),
        (TransportFailure.PAYLOAD_ERROR, A.UNKNOWN),
        (TransportFailure.ENCODE_FAILED, A.FAIL_PAYLOAD),
        ("connect_failed", A.RETRY),
        ("something_new", A.UNKNOWN),
    ],
)
def test_transport(kind: str, expected: Action) -> None:
    out = classify_transport(kind)
    assert out.action is expected
    assert out.reason.startswith("transport_")
