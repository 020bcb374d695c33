from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.webhook import (
    AccountUpdate,
    CapabilityUpdate,
    ErrorDetail,
    InboundMessage,
    ParseResult,
    QualityUpdate,
    StatusEvent,
    TemplateStatusUpdate,
    Unrecognized,
    UserPreference,
    WebhookErrors,
    parse_webhook,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
PNID = "106540352242922"


def load(name: str) -> ParseResult:
    result = parse_webhook((FIXTURES / name).read_bytes())
    assert result.problems == (), result.problems
    return result


def only(result: ParseResult) -> object:
    assert len(result.events) == 1, result.events
    return result.events[0]


def test_every_fixture_parses_cleanly_from_bytes_str_and_object() -> None:
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) >= 17
    for name in names:
        raw = (FIXTURES / name).read_bytes()
        as_bytes = parse_webhook(raw)
        assert as_bytes.problems == (), (name, as_bytes.problems)
        assert as_bytes == parse_webhook(raw.decode()) == parse_webhook(json.loads(raw))
        assert as_bytes.events, name


def test_sent_with_pricing_and_conversation() -> None:
    assert only(load("status_sent_with_pricing.json")) == StatusEvent(
        wamid=WAMID,
        status="sent",
        timestamp=1750030073,
        recipient_id="16505551234",
        recipient_user_id="US.13491208655302741918",
        callback_data="camp42:rcpt9001",
        pricing_category="marketing",
        pricing_type="regular",
        billable=True,
        conversation_origin="marketing",
        phone_number_id=PNID,
    )


def test_delivered_with_int_timestamp_and_no_conversation() -> None:
    event = only(load("status_delivered_int_timestamp.json"))
    assert isinstance(event, StatusEvent)
    assert (event.status, event.timestamp, event.conversation_origin) == (
        "delivered",
        1750030075,
        None,
    )
    assert event.pricing_type == "regular"


def test_read_without_pricing() -> None:
    event = only(load("status_read_no_pricing.json"))
    assert isinstance(event, StatusEvent)
    assert event.status == "read"
    assert (event.pricing_category, event.pricing_type, event.billable) == (None, None, None)
    assert event.errors == () and event.error_code is None


def test_failed_with_error() -> None:
    event = only(load("status_failed_131049.json"))
    assert isinstance(event, StatusEvent)
    assert event.status == "failed" and event.error_code == 131049
    assert event.errors == (
        ErrorDetail(
            code=131049,
            title="This message was not delivered to maintain healthy ecosystem engagement.",
            details=(
                "In order to maintain a healthy ecosystem engagement,"
                " the message failed to be delivered."
            ),
        ),
    )
    assert event.callback_data == "camp42:rcpt9002"


def test_failed_legacy_cbp_pricing() -> None:
    event = only(load("status_failed_legacy_cbp.json"))
    assert isinstance(event, StatusEvent)
    assert event.error_code == 130472 and event.billable is False
    assert event.pricing_type is None and event.pricing_category == "marketing"
    assert event.errors[0].details is None


def test_bsuid_only_status() -> None:
    event = only(load("status_bsuid_only.json"))
    assert isinstance(event, StatusEvent)
    assert event.recipient_id is None
    assert event.recipient_user_id == "US.13491208655302741918"


def test_multi_entry_multi_change_batch_keeps_order() -> None:
    events = load("batch_multi_entry.json").events
    summary = [
        (e.wamid, e.status) if isinstance(e, StatusEvent) else ("inbound", getattr(e, "text", None))
        for e in events
    ]
    assert summary == [
        ("wamid.A1", "sent"),
        ("wamid.A2", "sent"),
        ("wamid.A1", "delivered"),
        ("inbound", "Thanks!"),
        ("wamid.A3", "read"),
    ]


def test_inbound_text_stop() -> None:
    assert only(load("inbound_text_stop.json")) == InboundMessage(
        wamid="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUI3",
        from_phone="16505551234",
        user_id="US.13491208655302741918",
        type="text",
        text="STOP",
        button_payload=None,
        context_wamid=None,
        timestamp=1749416383,
        phone_number_id=PNID,
    )


def test_quick_reply_button() -> None:
    event = only(load("inbound_quick_reply_button.json"))
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.button_payload) == (
        "button",
        "Stop promotions",
        "STOP_PROMO",
    )
    assert event.context_wamid == WAMID and event.user_id is None


def test_interactive_button_reply() -> None:
    event = only(load("inbound_interactive_button_reply.json"))
    assert isinstance(event, InboundMessage)
    assert (event.text, event.button_payload, event.context_wamid) == (
        "Unsubscribe",
        "unsubscribe",
        "wamid.CTX",
    )


def test_user_preferences() -> None:
    assert only(load("user_preferences_stop.json")) == UserPreference(
        wa_id="16505551234",
        user_id=None,
        category="marketing_messages",
        value="stop",
        timestamp=1750263773,
    )
    resume = only(load("user_preferences_resume.json"))
    assert isinstance(resume, UserPreference)
    assert (resume.value, resume.timestamp, resume.user_id) == (
        "resume",
        1750350173,
        "US.13491208655302741918",
    )


def test_template_status_paused_and_reinstated() -> None:
    assert only(load("template_status_paused.json")) == TemplateStatusUpdate(
        event="PAUSED",
        template_name="spring_sale",
        language="en_US",
        template_id="1689556908129832",
        reason=None,
        title="FIRST_PAUSE",
    )
    back = only(load("template_status_reinstated.json"))
    assert isinstance(back, TemplateStatusUpdate)
    assert (back.event, back.template_id, back.title) == (
        "REINSTATED",
        "1689556908129832",
        "UNPAUSE",
    )


def test_quality_capability_account() -> None:
    assert only(load("phone_number_quality_update.json")) == QualityUpdate(
        display_phone_number="15550783881", event="THROUGHPUT_UPGRADE", limit_str="TIER_UNLIMITED"
    )
    assert only(load("business_capability_update.json")) == CapabilityUpdate("2000")
    account = only(load("account_update.json"))
    assert isinstance(account, AccountUpdate) and account.event == "ACCOUNT_RESTRICTION"
    assert json.loads(account.details)["restriction_info"][0]["restriction_type"] == (
        "RESTRICTED_BIZ_INITIATED_MESSAGING"
    )


def test_unknown_field() -> None:
    assert only(load("unknown_field.json")) == Unrecognized(
        "template_category_update", "unhandled field"
    )


# --- defensive behaviour ------------------------------------------------------------------


def envelope(*changes: object) -> dict[str, object]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": list(changes)}]}


def test_legacy_quality_limit_keys() -> None:
    value = {"display_phone_number": "1", "event": "downgrade", "current_limit": "TIER_1K"}
    event = only(parse_webhook(envelope({"field": "phone_number_quality_update", "value": value})))
    assert event == QualityUpdate(display_phone_number="1", event="DOWNGRADE", limit_str="TIER_1K")


def test_out_of_band_errors_and_message_level_user_preferences() -> None:
    value = {
        "errors": [{"code": 131000, "title": "Something went wrong"}],
        "user_preferences": [
            {"wa_id": "1", "value": "STOP", "timestamp": "5", "category": "marketing_messages"}
        ],
    }
    result = parse_webhook(envelope({"field": "messages", "value": value}))
    assert result.problems == ()
    assert WebhookErrors((ErrorDetail(131000, "Something went wrong", None),)) in result.events
    assert any(isinstance(e, UserPreference) and e.value == "stop" for e in result.events)


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ({"status": "sent", "timestamp": "1"}, "missing id or status"),
        ({"id": "w", "timestamp": "1"}, "missing id or status"),
        ({"id": "w", "status": "sent", "timestamp": "soon"}, "bad timestamp"),
        ({"id": "w", "status": "sent"}, "bad timestamp"),
        ("not a dict", "not an object"),
    ],
)
def test_bad_status_items_become_problems(status: object, problem: str) -> None:
    result = parse_webhook(
        envelope(
            {
                "field": "messages",
                "value": {"statuses": [status, {"id": "ok", "status": "read", "timestamp": 9}]},
            }
        )
    )
    assert any(problem in p for p in result.problems), result.problems
    assert "statuses[0]" in result.problems[0]
    statuses = [e for e in result.events if isinstance(e, StatusEvent)]
    assert statuses[-1].wamid == "ok"
    if problem == "bad timestamp":
        assert statuses[0].timestamp == 0


def test_flat_body_without_entry() -> None:
    result = parse_webhook({"statuses": [{"id": "w", "status": "DELIVERED", "timestamp": "3"}]})
    assert result.events == (StatusEvent(wamid="w", status="delivered", timestamp=3),)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", "not JSON"),
        (b"\x00\xff", "not JSON"),
        ("[1,2]", "not a JSON object"),
        ({"object": "page", "entry": []}, "unexpected 'page'"),
        ({"object": "whatsapp_business_account"}, "entry: missing"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": 3}]}, "no changes list"),
        (
            envelope(
                {"field": "user_preferences", "value": {"user_preferences": [{"value": "maybe"}]}}
            ),
            "unexpected value",
        ),
        (envelope(7), "not an object"),
    ],
)
def test_malformed_bodies(payload: object, problem: str) -> None:
    result = parse_webhook(payload)
    assert any(problem in p for p in result.problems), result.problems


def test_change_value_not_an_object_and_missing_field() -> None:
    result = parse_webhook(envelope({"field": "messages", "value": []}, {"value": {}}))
    assert result.events == (
        Unrecognized("messages", "value is not an object"),
        Unrecognized("", "no field"),
    )


def test_inbound_without_sender_is_kept_with_a_problem() -> None:
    value = {"messages": [{"id": "w", "type": "text", "text": {"body": "hi"}, "timestamp": "1"}]}
    result = parse_webhook(envelope({"field": "messages", "value": value}))
    assert "neither phone nor user_id" in result.problems[0]
    assert isinstance(result.events[0], InboundMessage)


def test_bsuid_only_inbound_uses_from_user_id_or_lone_contact() -> None:
    value = {
        "contacts": [{"user_id": "BR.1502576394655843", "profile": {"username": "@ana"}}],
        "messages": [{"id": "w", "type": "text", "text": {"body": "Stop"}, "timestamp": 1}],
    }
    event = only(parse_webhook(envelope({"field": "messages", "value": value})))
    assert isinstance(event, InboundMessage) and event.user_id == "BR.1502576394655843"
    value["messages"][0]["from_user_id"] = "BR.999"  # type: ignore[index]
    event = only(parse_webhook(envelope({"field": "messages", "value": value})))
    assert isinstance(event, InboundMessage) and event.user_id == "BR.999"


# --- never raises -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "object",
        "entry",
        "changes",
        "field",
        "value",
        "statuses",
        "messages",
        "contacts",
        "errors",
        "id",
        "status",
        "timestamp",
        "pricing",
        "conversation",
        "origin",
        "type",
        "text",
        "body",
        "button",
        "interactive",
        "button_reply",
        "context",
        "user_preferences",
        "event",
        "metadata",
        "error_data",
        "code",
        "wa_id",
        "user_id",
        "from",
    ]
)
FIELDS = st.sampled_from(
    [
        "messages",
        "user_preferences",
        "message_template_status_update",
        "phone_number_quality_update",
        "business_capability_update",
        "account_update",
        "security",
    ]
)
SHAPED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | FIELDS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=40,
)


@given(JSON)
def test_never_raises_on_arbitrary_json(payload: object) -> None:
    result = parse_webhook(payload)
    assert isinstance(result, ParseResult)
    try:
        raw = orjson.dumps(payload)
    except TypeError:  # integers beyond 64 bits: orjson cannot write them
        return
    if not isinstance(payload, str):  # a str is taken as raw JSON text, not a JSON string
        assert parse_webhook(raw) == result


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(SHAPED, FIELDS)
def test_never_raises_on_webhook_shaped_json(value: object, field: str) -> None:
    for payload in (value, envelope({"field": field, "value": value}), envelope(value)):
        assert isinstance(parse_webhook(payload), ParseResult)


@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert isinstance(parse_webhook(raw), ParseResult)


def test_deeply_nested_json_does_not_raise() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert parse_webhook(deep).problems
    nested: object = {}
    for _ in range(3000):
        nested = {"entry": [nested]}
    assert isinstance(parse_webhook(nested), ParseResult)
    hostile = {
        "object": nested,
        "entry": [{"changes": [{"field": "account_update", "value": nested}]}],
    }
    result = parse_webhook(hostile)
    assert "object: unexpected <dict>" in result.problems
    assert isinstance(result.events[0], AccountUpdate)
