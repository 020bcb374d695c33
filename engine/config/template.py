"""The ``template:`` section of a campaign spec, read into ``engine.core.render`` types.

This module checks shape (keys, types, enums); ``compile_template`` then checks meaning
(parameter counts, button indexes, placeholders, constant text) and builds the plan.
"""

from __future__ import annotations

from typing import Any

from engine.config.loader import Section, show
from engine.core.render import (
    BodyParam,
    ButtonSpec,
    CurrencyParam,
    DateTimeParam,
    HeaderSpec,
    TemplateSpec,
    TextParam,
)

CATEGORIES = ("marketing", "utility", "authentication")
HEADER_TYPES = ("text", "image", "video", "document")
BUTTON_SUB_TYPES = ("url", "quick_reply", "copy_code")
PARAM_KEYS = {
    "text": ("type", "text"),
    "currency": ("type", "fallback_value", "code", "amount_1000"),
    "date_time": ("type", "fallback_value"),
}


def parse_template(raw: object, *, where: str) -> TemplateSpec:
    s = Section(where, "template", raw, ("name", "language", "category", "components"))
    components = s.section("components", ("header", "body", "buttons"), default={})
    header = None
    if components.get("header", None) is not None:
        header = _header(
            components.section("header", ("type", "params", "media_id", "link", "filename"))
        )
    return TemplateSpec(
        name=s.string("name"),
        language=s.string("language"),
        category=s.choice("category", CATEGORIES),
        header=header,
        body=_body(components),
        buttons=_buttons(components),
    )


def _header(s: Section) -> HeaderSpec:
    kind = s.choice("type", HEADER_TYPES)
    return HeaderSpec(
        type=kind,
        params=s.strings("params", default=[]) if kind == "text" or s.has("params") else (),
        media_id=_scalar(s, "media_id"),
        link=s.string("link", default=None),
        filename=s.string("filename", default=None),
    )


def _scalar(s: Section, key: str) -> str | None:
    """A string; YAML reads an unquoted media id like 123 as a number, so accept ints."""
    value = s.get(key, None)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    result: str | None = s.string(key, default=None)
    return result


def _body(components: Section) -> tuple[BodyParam, ...]:
    items = components.get("body", [])
    if not isinstance(items, list):
        components.fail("body", f"must be a list of parameters, got {show(items)}")
    params: list[BodyParam] = []
    for i, item in enumerate(items):
        path = components.field(f"body[{i}]")
        if isinstance(item, str):
            params.append(TextParam(text=item))
            continue
        if isinstance(item, int | float) and not isinstance(item, bool):
            params.append(TextParam(text=str(item)))
            continue
        any_keys = {key for keys in PARAM_KEYS.values() for key in keys}
        kind = Section(components.where, path, item, any_keys).choice("type", PARAM_KEYS)
        p = Section(components.where, path, item, PARAM_KEYS[kind])
        if kind == "text":
            params.append(TextParam(text=p.string("text")))
        elif kind == "currency":
            params.append(
                CurrencyParam(
                    fallback_value=p.string("fallback_value"),
                    code=p.string("code"),
                    amount_1000=_amount(p),
                )
            )
        else:
            params.append(DateTimeParam(fallback_value=p.string("fallback_value")))
    return tuple(params)


def _amount(p: Section) -> str:
    value: Any = p.get("amount_1000")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            p.fail("amount_1000", f"must be >= 0, got {value}")
        return str(value)
    result: str = p.string("amount_1000")
    return result


def _buttons(components: Section) -> tuple[ButtonSpec, ...]:
    items = components.get("buttons", [])
    if not isinstance(items, list):
        components.fail("buttons", f"must be a list of buttons, got {show(items)}")
    buttons = []
    for i, item in enumerate(items):
        path = components.field(f"buttons[{i}]")
        b = Section(components.where, path, item, ("sub_type", "index", "params", "payload"))
        sub_type = b.choice("sub_type", BUTTON_SUB_TYPES)
        buttons.append(
            ButtonSpec(
                sub_type=sub_type,
                index=b.integer("index", lo=0, hi=9),
                params=b.strings("params", default=[]),
                payload=b.string("payload", default=None),
            )
        )
    return tuple(buttons)
