"""Template rendering: golden bodies per parameter type, per-recipient errors, properties.

Speed (measured, not asserted): the example spec's template (image header, 4 body params of
3 types, 2 buttons) renders in ~4 us; render + build_message_body + orjson.dumps ~5.5 us on
the dev machine (Python 3.11), i.e. ~180k messages/s on one core, far above 1,000/s.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.render import (
    ButtonSpec,
    CurrencyParam,
    DateTimeParam,
    HeaderSpec,
    RenderError,
    TemplateSpec,
    TextParam,
    build_message_body,
    compile_template,
    excerpt,
    render_template,
    text_problem,
)
from engine.errors import ConfigError


def spec(**kwargs: Any) -> TemplateSpec:
    base: dict[str, Any] = {"name": "order_update", "language": "en_US", "category": "utility"}
    return TemplateSpec(**{**base, **kwargs})


def render(template: TemplateSpec, attrs: dict[str, object]) -> Any:
    return render_template(compile_template(template), attrs)


LANGUAGE = {"policy": "deterministic", "code": "en_US"}


def test_no_components() -> None:
    assert render(spec(), {}) == {"name": "order_update", "language": LANGUAGE}


def test_reference_example_golden() -> None:
    """The body of reference §1.2, built from a spec."""
    template = spec(
        header=HeaderSpec(type="image", media_id="{{media}}"),
        body=(
            TextParam(text="{{first_name}}"),
            CurrencyParam(fallback_value="{{price}}", code="USD", amount_1000="{{amount}}"),
            DateTimeParam(fallback_value="{{date}}"),
        ),
        buttons=(
            ButtonSpec(sub_type="url", index=1, params=("{{order}}",)),
            ButtonSpec(sub_type="quick_reply", index=0, payload="STOP_PROMO"),
        ),
    )
    attrs = {
        "media": "<MEDIA_ID>",
        "first_name": "Jessica",
        "price": "$10.00",
        "amount": "10000",
        "date": "March 3, 2026",
        "order": "ord-123",
    }
    body = build_message_body("+15551234567", render(template, attrs), "camp42:rcpt9001")
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15551234567",
        "type": "template",
        "biz_opaque_callback_data": "camp42:rcpt9001",
        "template": {
            "name": "order_update",
            "language": {"policy": "deterministic", "code": "en_US"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"id": "<MEDIA_ID>"}}],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Jessica"},
                        {
                            "type": "currency",
                            "currency": {
                                "fallback_value": "$10.00",
                                "code": "USD",
                                "amount_1000": 10000,
                            },
                        },
                        {"type": "date_time", "date_time": {"fallback_value": "March 3, 2026"}},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "STOP_PROMO"}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "ord-123"}],
                },
            ],
        },
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HeaderSpec(type="text", params=("Hi {{city}}!",)), {"type": "text", "text": "Hi Oslo!"}),
        (
            HeaderSpec(type="video", link="https://cdn.example/{{city}}.mp4"),
            {"type": "video", "video": {"link": "https://cdn.example/Oslo.mp4"}},
        ),
        (
            HeaderSpec(type="document", link="https://x.example/a.pdf", filename="Offer.pdf"),
            {
                "type": "document",
                "document": {"link": "https://x.example/a.pdf", "filename": "Offer.pdf"},
            },
        ),
    ],
)
def test_header_golden(header: HeaderSpec, expected: dict[str, Any]) -> None:
    out = render(spec(header=header), {"city": "Oslo"})
    assert out["components"] == [{"type": "header", "parameters": [expected]}]


def test_static_text_header_needs_no_component() -> None:
    assert "components" not in render(spec(header=HeaderSpec(type="text")), {})


def test_copy_code_button_golden() -> None:
    template = spec(buttons=(ButtonSpec(sub_type="copy_code", index=2, params=("{{code}}",)),))
    assert render(template, {"code": "SAVE10"})["components"] == [
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "2",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        }
    ]


def test_literals_and_non_string_values() -> None:
    template = spec(
        body=(TextParam(text="{{n}} items for {{ who }}, ok={{ok}}"), TextParam(text="{{x}}"))
    )
    out = render(template, {"n": 3, "who": "Ana", "ok": True, "x": 1.5})
    assert [p["text"] for p in out["components"][0]["parameters"]] == [
        "3 items for Ana, ok=true",
        "1.5",
    ]


def test_plan_lists_attributes() -> None:
    template = spec(
        header=HeaderSpec(type="text", params=("{{a}}",)),
        body=(CurrencyParam(fallback_value="{{b}}", code="{{c}}", amount_1000="{{d}}"),),
        buttons=(ButtonSpec(sub_type="quick_reply", index=0, payload="{{e}}"),),
    )
    assert compile_template(template).attributes == {"a", "b", "c", "d", "e"}


@pytest.mark.parametrize(
    ("attrs", "detail"),
    [
        ({}, "missing attribute 'first_name'"),
        ({"first_name": None, "code": "x"}, "missing attribute 'first_name'"),
        ({"first_name": "Ana"}, "missing attribute 'code'"),
        (
            {"first_name": "A\nna", "code": "x"},
            "body[0] contains a newline or tab (attribute 'first_name')",
        ),
        (
            {"first_name": "A\tna", "code": "x"},
            "body[0] contains a newline or tab (attribute 'first_name')",
        ),
        (
            {"first_name": "A     na", "code": "x"},
            "body[0] contains more than 4 consecutive spaces (attribute 'first_name')",
        ),
        ({"first_name": "", "code": "x"}, "body[0] is empty (attribute 'first_name')"),
        ({"first_name": "   ", "code": "x"}, "body[0] is empty (attribute 'first_name')"),
        (
            {"first_name": "a" * 1025, "code": "x"},
            "body[0] is 1025 characters (max 1024) (attribute 'first_name')",
        ),
        ({"first_name": "Ana", "code": "a\nb"}, "body[1] contains a newline or tab"),
    ],
)
def test_bad_recipient_data_is_a_render_error(attrs: dict[str, object], detail: str) -> None:
    template = spec(body=(TextParam(text="{{first_name}}"), TextParam(text="Code: {{code}}")))
    assert render(template, attrs) == RenderError(detail=detail)
    assert RenderError(detail=detail).reason == "render_error"


def test_four_spaces_and_1024_chars_are_fine() -> None:
    template = spec(body=(TextParam(text="{{a}}"),))
    assert not isinstance(render(template, {"a": "a    b"}), RenderError)
    assert not isinstance(render(template, {"a": "x" * 1024}), RenderError)


@pytest.mark.parametrize(
    ("attrs", "detail"),
    [
        (
            {"price": "$1", "cur": "usd", "amt": "1000"},
            "body[0].code must be a 3-letter ISO 4217 code like USD (attribute 'cur')",
        ),
        (
            {"price": "$1", "cur": "USD", "amt": "1.5"},
            "body[0].amount_1000 must be a whole number (amount x 1000) (attribute 'amt')",
        ),
        (
            {"price": "$1", "cur": "USD", "amt": "-5"},
            "body[0].amount_1000 must be a whole number (amount x 1000) (attribute 'amt')",
        ),
        (
            {"price": "$1", "cur": "USD", "amt": "١٢"},
            "body[0].amount_1000 must be a whole number (amount x 1000) (attribute 'amt')",
        ),
    ],
)
def test_dynamic_currency_is_checked(attrs: dict[str, object], detail: str) -> None:
    template = spec(
        body=(CurrencyParam(fallback_value="{{price}}", code="{{cur}}", amount_1000="{{amt}}"),)
    )
    assert render(template, attrs) == RenderError(detail=detail)


def test_dynamic_media_is_checked() -> None:
    link = spec(header=HeaderSpec(type="image", link="{{url}}"))
    assert render(link, {"url": "javascript:alert(1)"}) == RenderError(
        detail="header must be an http(s) URL without spaces (attribute 'url')"
    )
    media = spec(header=HeaderSpec(type="image", media_id="{{m}}"))
    assert isinstance(render(media, {"m": "12 3"}), RenderError)


def test_value_that_cannot_be_text() -> None:
    class Weird:
        def __str__(self) -> str:
            raise RuntimeError("nope")

    template = spec(body=(TextParam(text="{{a}}"),))
    assert render(template, {"a": Weird()}) == RenderError(
        detail="attribute 'a' cannot be shown as text"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (spec(name="Order"), "x.yaml: template.name: must match"),
        (spec(language="en-US"), "x.yaml: template.language: not a language code: 'en-US'"),
        (
            spec(body=(TextParam(text="{{a b}}"),)),
            "x.yaml: template.components.body[0]: bad placeholder",
        ),
        (
            spec(body=(TextParam(text="}}"),)),
            "x.yaml: template.components.body[0]: bad placeholder",
        ),
        (
            spec(header=HeaderSpec(type="image", link="https://x/a.png", filename="a.png")),
            "x.yaml: template.components.header.filename: only a document header",
        ),
        (
            spec(header=HeaderSpec(type="text", params=("a",), link="https://x")),
            "x.yaml: template.components.header: a text header takes params only",
        ),
        (
            spec(header=HeaderSpec(type="gif", link="https://x")),
            "x.yaml: template.components.header.type: unknown header type 'gif'",
        ),  # type: ignore[arg-type]
        (
            spec(buttons=(ButtonSpec(sub_type="call", index=0),)),
            "x.yaml: template.components.buttons[0].sub_type: unknown button sub_type 'call'",
        ),  # type: ignore[arg-type]
        (
            spec(buttons=(ButtonSpec(sub_type="quick_reply", index=-1, payload="x"),)),
            "x.yaml: template.components.buttons[0].index: must be unique",
        ),
        (
            spec(buttons=(ButtonSpec(sub_type="copy_code", index=0, params=("a", "b")),)),
            "x.yaml: template.components.buttons[0].params: a copy_code button takes exactly",
        ),
        (
            spec(body=(CurrencyParam(fallback_value="$1", code="USD", amount_1000="x"),)),
            "x.yaml: template.components.body[0].amount_1000: must be a whole number",
        ),
        (
            spec(body=("plain",)),
            "x.yaml: template.components.body[0]: unknown body parameter 'plain'",
        ),  # type: ignore[arg-type]
    ],
)
def test_compile_errors(template: TemplateSpec, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_template(template, where="x.yaml")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


HUGE = "A" * 100_000 + "Z"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (spec(body=(TextParam(text=HUGE),)), "body[0]: is 100001 characters (max 1024): 'AAA"),
        (spec(body=(TextParam(text=HUGE + "{{x"),)), "body[0]: bad placeholder in 'AAA"),
        (spec(body=(TextParam(text=HUGE + "\n{{x}}"),)), "body[0]: contains a newline or tab"),
        (spec(name=HUGE.lower()), "template.name: must match"),
        (spec(language=HUGE), "template.language: not a language code: 'AAA"),
        (
            spec(buttons=(ButtonSpec(sub_type="url", index=0, params=(HUGE,)),)),
            "buttons[0].params[0]: is 100001 characters",
        ),
    ],
    ids=["text", "placeholder", "newline", "name", "language", "button"],
)
def test_compile_error_quotes_a_huge_value_as_an_excerpt(
    template: TemplateSpec, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        compile_template(template, where="x.yaml")
    text = str(info.value)
    assert message in text, text[:300]
    assert "Z" not in text.removeprefix("x.yaml: template.")  # the value's tail is not shown
    assert len(text) < 200, text[:300]


def test_excerpt() -> None:
    assert excerpt("short") == "'short'"
    assert excerpt("x" * 40) == repr("x" * 40)
    assert excerpt("ab\n" * 30) == repr(("ab\n" * 30)[:40]) + "\u2026 (90 characters)"


def test_build_message_body_callback_limit() -> None:
    template = render(spec(), {})
    assert build_message_body("4915112345678", template, "x" * 512)["to"] == "4915112345678"
    with pytest.raises(ValueError, match="max 512"):
        build_message_body("+4915112345678", template, "x" * 513)


# The first text strategy of a fresh run builds Hypothesis' character tables (~1 s).
RELAXED = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


FULL = spec(
    header=HeaderSpec(type="text", params=("{{a}}",)),
    body=(
        TextParam(text="Hi {{a}}, {{b}}"),
        CurrencyParam(fallback_value="{{c}}", code="{{d}}", amount_1000="{{e}}"),
        DateTimeParam(fallback_value="{{f}}"),
    ),
    buttons=(
        ButtonSpec(sub_type="url", index=0, params=("{{b}}",)),
        ButtonSpec(sub_type="quick_reply", index=1, payload="{{g}}"),
    ),
)
FULL_PLAN = compile_template(FULL)
VALUES = st.one_of(
    st.none(),
    st.text(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(),
    st.lists(st.integers()),
)


@RELAXED
@given(st.dictionaries(st.sampled_from("abcdefgxyz"), VALUES))
def test_render_never_raises(attrs: dict[str, object]) -> None:
    out = render_template(FULL_PLAN, attrs)
    if isinstance(out, RenderError):
        assert out.detail and out.reason == "render_error"
        return
    orjson.dumps(out)
    texts = [
        p.get("text") or p.get("payload") or p.get("date_time", {}).get("fallback_value")
        for c in out["components"]
        for p in c["parameters"]
    ]
    assert all(isinstance(t, str) and text_problem(t) is None for t in texts)


@RELAXED
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_render_valid_text_round_trips(value: str) -> None:
    out = render_template(compile_template(spec(body=(TextParam(text="{{v}}"),))), {"v": value})
    if text_problem(value) is None:
        assert not isinstance(out, RenderError)
        assert out["components"][0]["parameters"][0]["text"] == value
    else:
        assert isinstance(out, RenderError)
