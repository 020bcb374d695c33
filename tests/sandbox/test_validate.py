"""Meta's request validation, as pure decisions (no HTTP)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.sandbox.catalog import ButtonSpec, Catalog, TemplateSpec, default_templates
from engine.sandbox.validate import Rejection, SendRequest, validate_send
from tests.sandbox.conftest import hello, promo


@pytest.fixture
def catalog() -> Catalog:
    extra = (
        TemplateSpec(
            name="order_update",
            language="en_US",
            category="utility",
            header_format="image",
            body_params=3,
            buttons=(
                ButtonSpec(sub_type="quick_reply", params=0),
                ButtonSpec(sub_type="url", params=1),
            ),
        ),
        TemplateSpec(name="greeting", language="de", header_format="text", header_params=1),
    )
    return Catalog((*default_templates(), *extra))


def order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "to": "+4915112345678",
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"id": "m1"}}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Jessica"},
                        {
                            "type": "currency",
                            "currency": {
                                "fallback_value": "$10",
                                "code": "USD",
                                "amount_1000": 10000,
                            },
                        },
                        {"type": "date_time", "date_time": {"fallback_value": "March 3"}},
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
                    "index": 1,
                    "parameters": [{"type": "text", "text": "ord-123"}],
                },
            ],
        },
    }
    body.update(overrides)
    return body


def test_valid_sends(catalog: Catalog) -> None:
    for body in (hello(), promo(), order(), hello(to="+15551234567", callback="c12:m3456")):
        result = validate_send(body, catalog)
        assert isinstance(result, SendRequest), result
    result = validate_send(order(), catalog)
    assert isinstance(result, SendRequest)
    assert (result.to, result.wa_id) == ("+4915112345678", "4915112345678")
    result = validate_send(hello(callback="c12:m3456"), catalog)
    assert isinstance(result, SendRequest) and result.callback_data == "c12:m3456"


def _mutated(base: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


CASES: list[tuple[str, Any, int]] = [
    ("array body", [], 100),
    ("no messaging_product", _mutated(hello(), ["messaging_product"], KeyError), 100),
    ("wrong messaging_product", _mutated(hello(), ["messaging_product"], "sms"), 100),
    ("group recipient_type", _mutated(hello(), ["recipient_type"], "group"), 100),
    ("no to", _mutated(hello(), ["to"], KeyError), 100),
    ("type text", _mutated(hello(), ["type"], "text"), 131051),
    ("no type", _mutated(hello(), ["type"], KeyError), 131051),
    ("to with letters", _mutated(hello(), ["to"], "1555abc4567"), 131009),
    ("to too short", _mutated(hello(), ["to"], "123456"), 131009),
    ("to too long", _mutated(hello(), ["to"], "1234567890123456"), 131009),
    ("to not a string", _mutated(hello(), ["to"], 15551234567), 131009),
    ("callback too long", hello(callback="x" * 513), 100),
    ("callback not a string", _mutated(hello(), ["biz_opaque_callback_data"], 7), 100),
    ("no template", _mutated(hello(), ["template"], KeyError), 131008),
    ("no template name", _mutated(hello(), ["template", "name"], KeyError), 131008),
    ("no language", _mutated(hello(), ["template", "language"], KeyError), 131008),
    ("no language code", _mutated(hello(), ["template", "language"], {"policy": "x"}), 131008),
    ("unknown template", _mutated(hello(), ["template", "name"], "nope"), 132001),
    ("wrong language", _mutated(hello(), ["template", "language", "code"], "de"), 132001),
    ("body params on hello", _mutated(promo(), ["template", "name"], "hello_world"), 132001),
    (
        "one body param short",
        _mutated(promo(), ["template", "components", 0, "parameters", 1], KeyError),
        132000,
    ),
    (
        "missing body",
        _mutated(promo(), ["template", "components", 0], {"type": "header", "parameters": []}),
        132000,
    ),
    (
        "missing url param",
        _mutated(promo(), ["template", "components", 1, "parameters"], []),
        132000,
    ),
    (
        "button index out of range",
        _mutated(promo(), ["template", "components", 1, "index"], "3"),
        132000,
    ),
    (
        "button wrong sub_type",
        _mutated(promo(), ["template", "components", 1, "sub_type"], "quick_reply"),
        132000,
    ),
    ("components not a list", _mutated(promo(), ["template", "components"], {}), 100),
    ("unknown component", _mutated(promo(), ["template", "components", 0, "type"], "footer"), 100),
    ("newline", promo(name="Ada\nLovelace"), 132012),
    ("tab", promo(name="Ada\tLovelace"), 132012),
    ("four spaces", promo(name="Ada    Lovelace"), 132012),
    ("1025 characters", promo(name="x" * 1025), 132012),
    (
        "number instead of text",
        _mutated(promo(), ["template", "components", 0, "parameters", 0, "text"], 5),
        132012,
    ),
    (
        "image param in body",
        _mutated(
            promo(),
            ["template", "components", 0, "parameters", 0],
            {"type": "image", "image": {"id": "1"}},
        ),
        132012,
    ),
    (
        "header text instead of image",
        _mutated(
            order(), ["template", "components", 0, "parameters", 0], {"type": "text", "text": "x"}
        ),
        132012,
    ),
    (
        "media without id or link",
        _mutated(order(), ["template", "components", 0, "parameters", 0, "image"], {}),
        132012,
    ),
    (
        "bad currency",
        _mutated(
            order(), ["template", "components", 1, "parameters", 1, "currency", "amount_1000"], "10"
        ),
        132012,
    ),
    (
        "quick reply text param",
        _mutated(
            order(), ["template", "components", 2, "parameters", 0], {"type": "text", "text": "x"}
        ),
        132012,
    ),
]


@pytest.mark.parametrize(("case", "body", "code"), CASES, ids=[c[0] for c in CASES])
def test_rejections(catalog: Catalog, case: str, body: Any, code: int) -> None:
    result = validate_send(body, catalog)
    assert isinstance(result, Rejection), case
    assert result.code == code, (case, result)
    assert result.details


def test_limits_are_inclusive(catalog: Catalog) -> None:
    assert isinstance(validate_send(promo(name="x" * 1024), catalog), SendRequest)
    assert isinstance(validate_send(promo(name="a   b"), catalog), SendRequest)  # 3 spaces
    assert isinstance(validate_send(hello(callback="x" * 512), catalog), SendRequest)
    assert isinstance(validate_send(hello(to="1234567"), catalog), SendRequest)
    assert isinstance(validate_send(hello(to="123456789012345"), catalog), SendRequest)


def test_quick_reply_payload_is_optional(catalog: Catalog) -> None:
    body = _mutated(order(), ["template", "components", 2, "parameters"], [])
    assert isinstance(validate_send(body, catalog), SendRequest)
    body = _mutated(
        order(),
        ["template", "components", 2, "parameters"],
        [{"type": "payload", "payload": "A"}, {"type": "payload", "payload": "B"}],
    )
    assert validate_send(body, catalog) == Rejection(
        132000, "button 0: expected 0 parameters, received 2"
    )


def test_text_header_params(catalog: Catalog) -> None:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "to": "4915100000000",
        "type": "template",
        "template": {"name": "greeting", "language": {"code": "de"}},
    }
    result = validate_send(body, catalog)
    assert isinstance(result, Rejection) and result.code == 132000
    body["template"]["components"] = [
        {"type": "header", "parameters": [{"type": "text", "text": "Hi"}]}
    ]
    assert isinstance(validate_send(body, catalog), SendRequest)


def test_template_status_blocks_sends(catalog: Catalog) -> None:
    catalog.set_status("demo_promo", None, "PAUSED")
    result = validate_send(promo(), catalog)
    assert isinstance(result, Rejection) and result.code == 132015
    catalog.set_status("demo_promo", "en", "DISABLED")
    result = validate_send(promo(), catalog)
    assert isinstance(result, Rejection) and result.code == 132016
    catalog.set_status("demo_promo", None, "APPROVED")
    assert isinstance(validate_send(promo(), catalog), SendRequest)
    assert catalog.set_status("unknown", None, "PAUSED") == []
