"""Validation of a ``POST /messages`` body, as Meta does it (pure, no I/O).

``validate_send(body, catalog)`` takes the decoded JSON and returns a ``SendRequest`` or a
``Rejection(code, details)``. Checks run in this order; the first failure wins:

1. shape: a JSON object (100), ``messaging_product`` = ``whatsapp`` (100),
   ``recipient_type`` absent or ``individual`` (100), ``to`` present (100),
   ``type`` = ``template`` (131051: the sandbox sends templates only);
2. ``to`` is 7-15 digits with an optional leading ``+`` (131009);
3. ``biz_opaque_callback_data`` is a string of at most 512 characters (100);
4. ``template`` object with ``name`` and ``language.code`` (131008);
5. the translation exists in the catalog (132001) and is sendable (132015 paused,
   132016 disabled);
6. components: known types, one header/body at most, button indexes that exist with the
   catalog's sub_type (100/132000); parameter counts per component equal the catalog's
   (132000);
7. parameter values: text without newline, tab or 4 consecutive spaces and at most 1,024
   characters; typed parameters (currency, date_time, media, payload) well formed (132012).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from engine.sandbox.catalog import Catalog, TemplateSpec

MAX_TEXT_PARAM: Final = 1024
MAX_CALLBACK_DATA: Final = 512
_TO_RE: Final = re.compile(r"\+?(\d{7,15})")
_BODY_TYPES: Final = frozenset({"text", "currency", "date_time"})


class SendRequest:
    """A valid send: recipient as given (``to``) and normalised (``wa_id``), template, echo."""

    __slots__ = ("callback_data", "template", "to", "wa_id")

    def __init__(
        self, to: str, wa_id: str, template: TemplateSpec, callback_data: str | None
    ) -> None:
        self.to = to
        self.wa_id = wa_id
        self.template = template
        self.callback_data = callback_data

    def __repr__(self) -> str:
        return f"<SendRequest to={self.wa_id} template={self.template.name}>"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A synchronous Meta error: ``code`` and the ``error_data.details`` text."""

    code: int
    details: str


def _text_problem(text: object) -> str | None:
    """Why a text parameter value is malformed, or None when it is fine."""
    if not isinstance(text, str):
        return "text parameter value must be a string"
    if "\n" in text or "\t" in text or "    " in text:
        return "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"
    if len(text) > MAX_TEXT_PARAM:
        return f"Param text exceeds the maximum length of {MAX_TEXT_PARAM} characters"
    return None


def _param_problem(param: object, allowed: frozenset[str]) -> str | None:
    """Why one parameter does not fit its slot (``allowed`` parameter types), or None."""
    if not isinstance(param, dict):
        return "parameter must be an object"
    ptype = param.get("type")
    if ptype not in allowed:
        return (
            f"parameter type {ptype!r} is not allowed here (expected {'/'.join(sorted(allowed))})"
        )
    if ptype == "text":
        return _text_problem(param.get("text"))
    value = param.get(ptype)
    if ptype in ("payload", "coupon_code"):
        return None if isinstance(value, str) and value else f"{ptype} must be a non-empty string"
    if not isinstance(value, dict):
        return f"{ptype} parameter must carry a {ptype} object"
    if ptype == "currency":
        ok = (
            isinstance(value.get("fallback_value"), str)
            and isinstance(value.get("code"), str)
            and isinstance(value.get("amount_1000"), int)
        )
        return None if ok else "currency needs fallback_value, code and integer amount_1000"
    if ptype == "date_time":
        ok = isinstance(value.get("fallback_value"), str)
        return None if ok else "date_time needs fallback_value"
    # media (image/video/document) and location headers
    if ptype == "location":
        return None
    ok = isinstance(value.get("id"), str) or isinstance(value.get("link"), str)
    return None if ok else f"{ptype} needs an id or a link"


_TEXT_ONLY: Final = frozenset({"text"})
_BUTTON_PARAM_TYPES: Final = {
    "quick_reply": frozenset({"payload"}),
    "copy_code": frozenset({"coupon_code"}),
    "flow": frozenset({"action"}),
    "catalog": frozenset({"action"}),
}


def _check_components(spec: TemplateSpec, components: object) -> Rejection | None:
    if components is None:
        components = []
    if not isinstance(components, list):
        return Rejection(100, "template.components must be an array")
    header: list[Any] | None = None
    body: list[Any] | None = None
    buttons: dict[int, list[Any]] = {}
    for comp in components:
        if not isinstance(comp, dict):
            return Rejection(100, "each component must be an object")
        ctype = str(comp.get("type", "")).lower()
        params = comp.get("parameters", [])
        if not isinstance(params, list):
            return Rejection(100, f"{ctype} parameters must be an array")
        if ctype == "header":
            if header is not None:
                return Rejection(132000, "more than one header component")
            header = params
        elif ctype == "body":
            if body is not None:
                return Rejection(132000, "more than one body component")
            body = params
        elif ctype == "button":
            try:
                index = int(comp.get("index", ""))
            except (TypeError, ValueError):
                return Rejection(100, "button component needs a numeric index")
            if not 0 <= index < len(spec.buttons) or index in buttons:
                return Rejection(132000, f"button at index {index} does not take parameters")
            sub_type = comp.get("sub_type")
            if sub_type != spec.buttons[index].sub_type:
                return Rejection(
                    132000, f"button {index} is {spec.buttons[index].sub_type}, not {sub_type}"
                )
            buttons[index] = params
        else:
            return Rejection(100, f"unknown component type {comp.get('type')!r}")

    want = spec.expected_header_params
    got = len(header or ())
    if got != want:
        return Rejection(132000, f"header: expected {want} parameters, received {got}")
    got = len(body or ())
    if got != spec.body_params:
        return Rejection(132000, f"body: expected {spec.body_params} parameters, received {got}")
    for index, button in enumerate(spec.buttons):
        got = len(buttons.get(index, ()))
        fits = got in (0, 1) if button.sub_type == "quick_reply" else got == button.params
        if not fits:
            return Rejection(
                132000, f"button {index}: expected {button.params} parameters, received {got}"
            )

    if header:
        fmt = spec.header_format or "text"
        problem = _param_problem(header[0], frozenset({fmt}))
        if problem:
            return Rejection(132012, f"header: {problem}")
    for param in body or ():
        problem = _param_problem(param, _BODY_TYPES)
        if problem:
            return Rejection(132012, f"body: {problem}")
    for index, params in buttons.items():
        allowed = _BUTTON_PARAM_TYPES.get(spec.buttons[index].sub_type, _TEXT_ONLY)
        for param in params:
            problem = _param_problem(param, allowed)
            if problem:
                return Rejection(132012, f"button {index}: {problem}")
    return None


def validate_send(body: object, catalog: Catalog) -> SendRequest | Rejection:
    """Decide whether a decoded ``/messages`` body is a valid template send (see module doc)."""
    if not isinstance(body, dict):
        return Rejection(100, "Request body must be a JSON object")
    product = body.get("messaging_product")
    if product is None:
        return Rejection(100, "The parameter messaging_product is required.")
    if product != "whatsapp":
        return Rejection(100, "Param messaging_product must be 'whatsapp'")
    rtype = body.get("recipient_type")
    if rtype is not None and rtype != "individual":
        return Rejection(100, "Param recipient_type must be 'individual'")
    to = body.get("to")
    if to is None:
        return Rejection(100, "The parameter to is required.")
    mtype = body.get("type")
    if mtype != "template":
        return Rejection(131051, f"Message type {mtype!r} is not supported by this sandbox")
    match = _TO_RE.fullmatch(to) if isinstance(to, str) else None
    if match is None:
        return Rejection(131009, f"Invalid WhatsApp ID: to={to!r}")
    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (
        not isinstance(callback, str) or len(callback) > MAX_CALLBACK_DATA
    ):
        return Rejection(
            100, "Param biz_opaque_callback_data must be a string of at most 512 characters"
        )

    template = body.get("template")
    if not isinstance(template, dict):
        return Rejection(131008, "Parameter 'template' is required")
    name = template.get("name")
    if not isinstance(name, str) or not name:
        return Rejection(131008, "Parameter 'template.name' is required")
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        return Rejection(131008, "Parameter 'template.language.code' is required")
    spec = catalog.get(name, code)
    if spec is None:
        return Rejection(132001, f"template name ({name}) does not exist in {code}")
    status = catalog.status(name, code)
    if status == "DISABLED":
        return Rejection(132016, f"template {name} ({code}) is disabled")
    if status not in ("APPROVED", "REINSTATED"):
        return Rejection(132015, f"template {name} ({code}) is paused")
    rejection = _check_components(spec, template.get("components"))
    if rejection is not None:
        return rejection
    assert isinstance(to, str)
    return SendRequest(to, match.group(1), spec, callback)
