"""Template rendering: compile a campaign's template once, fill it per recipient, fast.

``compile_template`` checks the template spec (component kinds, parameter counts, button
indexes, ``{{attr}}`` placeholders, constant text) and turns it into a ``TemplatePlan`` of
small closures; problems are a ``ConfigError`` naming the field, raised at load time.
``render_template`` then builds the ``template`` object of a send body (reference §1.2) for
one recipient's attributes. It never raises for bad recipient data: a missing attribute or
a value WhatsApp would refuse (error 132012: newline, tab, more than 4 consecutive spaces,
empty, over 1,024 characters) comes back as a ``RenderError`` so the row fails alone.

Pure module: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import ConfigError

MAX_TEXT_CHARS = 1024
MAX_CALLBACK_CHARS = 512
MAX_BUTTON_INDEX = 9
EXCERPT_CHARS = 40  # of a bad value quoted in an error message
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})\s*\}\}")
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Za-z0-9]{2,4})?")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TextParam:
    text: str  # may contain {{attr}} placeholders, as may every str field below
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyParam:
    fallback_value: str
    code: str  # ISO 4217, e.g. "USD"
    amount_1000: str  # amount x 1000, renders to an integer
    type: Literal["currency"] = "currency"


@dataclass(frozen=True, slots=True, kw_only=True)
class DateTimeParam:
    fallback_value: str
    type: Literal["date_time"] = "date_time"


BodyParam = TextParam | CurrencyParam | DateTimeParam


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderSpec:
    type: Literal["text", "image", "video", "document"]
    params: tuple[str, ...] = ()  # text header: at most one
    media_id: str | None = None  # media header: exactly one of media_id / link
    link: str | None = None
    filename: str | None = None  # document header only


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonSpec:
    sub_type: Literal["url", "quick_reply", "copy_code"]
    index: int  # the button's 0-based position in the approved template
    params: tuple[str, ...] = ()  # url / copy_code: exactly one
    payload: str | None = None  # quick_reply only


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSpec:
    name: str
    language: str
    category: Literal["marketing", "utility", "authentication"]
    header: HeaderSpec | None = None
    body: tuple[BodyParam, ...] = ()
    buttons: tuple[ButtonSpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderError:
    """Why one recipient's message cannot be built; recorded on that row only."""

    detail: str
    reason: str = "render_error"


_Builder = Callable[[Mapping[str, object]], Any]
_Getter = Callable[[Mapping[str, object]], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplatePlan:
    name: str
    language: str
    attributes: frozenset[str]  # every attribute a recipient needs
    builders: tuple[_Builder, ...] = field(repr=False)


def excerpt(text: str) -> str:
    """``text`` quoted for an error message: whole when at most ``EXCERPT_CHARS`` long,
    else its first ``EXCERPT_CHARS`` characters, an ellipsis and the full length, so a
    huge value pasted into a spec cannot flood the one-line error."""
    if len(text) <= EXCERPT_CHARS:
        return repr(text)
    return f"{text[:EXCERPT_CHARS]!r}… ({len(text)} characters)"


class _Fail(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def text_problem(text: str) -> str | None:
    """What WhatsApp would refuse in a text parameter, or None."""
    if not text.strip():
        return "is empty"
    if len(text) > MAX_TEXT_CHARS:
        return f"is {len(text)} characters (max {MAX_TEXT_CHARS})"
    if "\n" in text or "\t" in text or "\r" in text:
        return "contains a newline or tab"
    if "     " in text:
        return "contains more than 4 consecutive spaces"
    return None


def _media_problem(text: str) -> str | None:
    if not text or text != text.strip() or " " in text:
        return "must be non-empty without spaces"
    return None


def _link_problem(text: str) -> str | None:
    if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
        return "must be an http(s) URL without spaces"
    return None


def _code_problem(text: str) -> str | None:
    return None if _CURRENCY.fullmatch(text) else "must be a 3-letter ISO 4217 code like USD"


def _amount_problem(text: str) -> str | None:
    ok = text.isascii() and text.isdigit() and len(text) <= 18
    return None if ok else "must be a whole number (amount x 1000)"


def _value(attrs: Mapping[str, object], name: str) -> str:
    value = attrs.get(name)
    if value is None:
        raise _Fail(f"missing attribute {name!r}")
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return str(value)
    except Exception as exc:  # a recipient's odd value must not stop the campaign
        raise _Fail(f"attribute {name!r} cannot be shown as text") from exc


def _compile_str(
    text: str, where: str, path: str, label: str, check: Callable[[str], str | None]
) -> tuple[_Getter, set[str]]:
    """One string with placeholders -> (getter, attribute names); constants checked now."""
    pieces = _PLACEHOLDER.split(text)  # literal, name, literal, name, ..., literal
    literals, names = pieces[0::2], pieces[1::2]
    for literal in literals:
        if "{{" in literal or "}}" in literal:
            raise ConfigError(where, path, f"bad placeholder in {excerpt(text)} (use {{{{attr}}}})")
    if not names:
        problem = check(text)
        if problem:
            raise ConfigError(where, path, f"{problem}: {excerpt(text)}")
        return (lambda _attrs: text), set()
    if any("\n" in lit or "\t" in lit or "\r" in lit for lit in literals):
        raise ConfigError(where, path, f"contains a newline or tab: {excerpt(text)}")

    if len(names) == 1 and not literals[0] and not literals[1]:
        name = names[0]

        def get_one(attrs: Mapping[str, object]) -> str:
            value = _value(attrs, name)
            problem = check(value)
            if problem:
                raise _Fail(f"{label} {problem} (attribute {name!r})")
            return value

        return get_one, {name}

    def get_joined(attrs: Mapping[str, object]) -> str:
        out = [literals[0]]
        for name, literal in zip(names, literals[1:], strict=True):
            out.append(_value(attrs, name))
            out.append(literal)
        value = "".join(out)
        problem = check(value)
        if problem:
            raise _Fail(f"{label} {problem}")
        return value

    return get_joined, set(names)


def compile_template(spec: TemplateSpec, *, where: str = "template") -> TemplatePlan:
    """Check ``spec`` and build its plan; ``where`` (the spec file) prefixes every error."""
    if not _TEMPLATE_NAME.fullmatch(spec.name):
        reason = f"must match [a-z0-9_]{{1,512}}, got {excerpt(spec.name)}"
        raise ConfigError(where, "template.name", reason)
    if not _LANGUAGE.fullmatch(spec.language):
        raise ConfigError(
            where, "template.language", f"not a language code: {excerpt(spec.language)}"
        )
    attrs: set[str] = set()
    builders: list[_Builder] = []
    path = "template.components"
    if spec.header is not None:
        header = _compile_header(spec.header, where, f"{path}.header", attrs)
        if header is not None:
            builders.append(header)
    if spec.body:
        builders.append(_compile_body(spec.body, where, f"{path}.body", attrs))
    seen: set[int] = set()
    for i, button in sorted(enumerate(spec.buttons), key=lambda pair: pair[1].index):
        bpath = f"{path}.buttons[{i}]"
        if not 0 <= button.index <= MAX_BUTTON_INDEX or button.index in seen:
            reason = f"must be unique and within 0..{MAX_BUTTON_INDEX}, got {button.index}"
            raise ConfigError(where, f"{bpath}.index", reason)
        seen.add(button.index)
        builders.append(_compile_button(button, where, bpath, attrs))
    return TemplatePlan(
        name=spec.name,
        language=spec.language,
        attributes=frozenset(attrs),
        builders=tuple(builders),
    )


def _compile_header(h: HeaderSpec, where: str, path: str, attrs: set[str]) -> _Builder | None:
    if h.type == "text":
        if h.media_id is not None or h.link is not None or h.filename is not None:
            raise ConfigError(where, path, "a text header takes params only")
        if len(h.params) > 1:
            raise ConfigError(where, f"{path}.params", "a text header takes at most 1 parameter")
        if not h.params:
            return None
        get, names = _compile_str(h.params[0], where, f"{path}.params[0]", "header", text_problem)
        attrs |= names
        return lambda a: {"type": "header", "parameters": [{"type": "text", "text": get(a)}]}
    if h.type not in ("image", "video", "document"):
        raise ConfigError(where, f"{path}.type", f"unknown header type {excerpt(h.type)}")
    if (h.media_id is None) == (h.link is None) or h.params:
        raise ConfigError(where, path, f"a {h.type} header takes exactly one of media_id, link")
    if h.filename is not None and h.type != "document":
        raise ConfigError(where, f"{path}.filename", "only a document header has a filename")
    if h.media_id is not None:
        key, raw, check = "id", h.media_id, _media_problem
    else:
        key, raw, check = "link", h.link or "", _link_problem
    get, names = _compile_str(
        raw, where, f"{path}.{'media_id' if key == 'id' else key}", "header", check
    )
    attrs |= names
    kind, filename = h.type, h.filename

    def build(a: Mapping[str, object]) -> Any:
        media: dict[str, str] = {key: get(a)}
        if filename is not None:
            media["filename"] = filename
        return {"type": "header", "parameters": [{"type": kind, kind: media}]}

    return build


def _text_part(get: _Getter) -> _Builder:
    return lambda a: {"type": "text", "text": get(a)}


def _date_time_part(get: _Getter) -> _Builder:
    return lambda a: {"type": "date_time", "date_time": {"fallback_value": get(a)}}


def _currency_part(fallback: _Getter, code: _Getter, amount: _Getter) -> _Builder:
    def build(a: Mapping[str, object]) -> Any:
        money = {"fallback_value": fallback(a), "code": code(a), "amount_1000": int(amount(a))}
        return {"type": "currency", "currency": money}

    return build


def _compile_body(
    params: tuple[BodyParam, ...], where: str, path: str, attrs: set[str]
) -> _Builder:
    parts: list[_Builder] = []
    for i, p in enumerate(params):
        ppath, label = f"{path}[{i}]", f"body[{i}]"
        if isinstance(p, TextParam):
            get, names = _compile_str(p.text, where, ppath, label, text_problem)
            parts.append(_text_part(get))
        elif isinstance(p, CurrencyParam):
            fpath = f"{ppath}.fallback_value"
            fallback, n1 = _compile_str(p.fallback_value, where, fpath, label, text_problem)
            code, n2 = _compile_str(p.code, where, f"{ppath}.code", f"{label}.code", _code_problem)
            apath, alabel = f"{ppath}.amount_1000", f"{label}.amount_1000"
            amount, n3 = _compile_str(p.amount_1000, where, apath, alabel, _amount_problem)
            names = n1 | n2 | n3
            parts.append(_currency_part(fallback, code, amount))
        elif isinstance(p, DateTimeParam):
            fpath = f"{ppath}.fallback_value"
            get, names = _compile_str(p.fallback_value, where, fpath, label, text_problem)
            parts.append(_date_time_part(get))
        else:
            shown = excerpt(p) if isinstance(p, str) else f"of type {type(p).__name__}"
            raise ConfigError(where, ppath, f"unknown body parameter {shown}")
        attrs |= names
    built = tuple(parts)
    return lambda a: {"type": "body", "parameters": [part(a) for part in built]}


def _compile_button(b: ButtonSpec, where: str, path: str, attrs: set[str]) -> _Builder:
    index, sub_type, label = str(b.index), b.sub_type, f"button[{b.index}]"
    if sub_type == "quick_reply":
        if b.payload is None or b.params:
            raise ConfigError(where, path, "a quick_reply button takes a payload, not params")
        get, names = _compile_str(b.payload, where, f"{path}.payload", label, text_problem)
        kind = "payload"
    elif sub_type in ("url", "copy_code"):
        if len(b.params) != 1 or b.payload is not None:
            raise ConfigError(where, f"{path}.params", f"a {sub_type} button takes exactly 1 param")
        get, names = _compile_str(b.params[0], where, f"{path}.params[0]", label, text_problem)
        kind = "text" if sub_type == "url" else "coupon_code"
    else:
        raise ConfigError(where, f"{path}.sub_type", f"unknown button sub_type {excerpt(sub_type)}")
    attrs |= names
    return lambda a: {
        "type": "button",
        "sub_type": sub_type,
        "index": index,
        "parameters": [{"type": kind, kind: get(a)}],
    }


def render_template(
    plan: TemplatePlan, attrs: Mapping[str, object]
) -> dict[str, Any] | RenderError:
    """The ``template`` object for one recipient, or why it cannot be built. Never raises."""
    try:
        components = [build(attrs) for build in plan.builders]
    except _Fail as exc:
        return RenderError(detail=exc.detail)
    out: dict[str, Any] = {
        "name": plan.name,
        "language": {"policy": "deterministic", "code": plan.language},
    }
    if components:
        out["components"] = components
    return out


def build_message_body(to: str, template_obj: dict[str, Any], callback_data: str) -> dict[str, Any]:
    """The full ``POST /messages`` body; ``to`` is E.164 (the '+' is dropped).

    ``callback_data`` comes back on status webhooks as ``biz_opaque_callback_data``; WhatsApp
    caps it at 512 characters, so a longer one is a programming error (``ValueError``).
    """
    if len(callback_data) > MAX_CALLBACK_CHARS:
        raise ValueError(f"callback_data is {len(callback_data)} characters (max 512)")
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to[1:] if to.startswith("+") else to,
        "type": "template",
        "biz_opaque_callback_data": callback_data,
        "template": template_obj,
    }
