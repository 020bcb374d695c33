"""The template catalog: which templates exist, their parameter shape and live status.

A template is identified by ``(name, language)``. Its shape is what the validator checks a
send against: how many parameters the header, the body and each parameterised button take.
The live status starts at ``APPROVED`` and is changed by ``message_template_status_update``
events (``PAUSED`` makes sends fail with 132015, ``DISABLED`` with 132016, ``REINSTATED`` or
``APPROVED`` lifts both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

CATEGORIES: Final = frozenset({"marketing", "utility", "authentication"})
HEADER_FORMATS: Final = frozenset({"text", "image", "video", "document", "location"})
BUTTON_SUB_TYPES: Final = frozenset(
    {"url", "quick_reply", "copy_code", "flow", "phone_number", "catalog"}
)
#: Template statuses that let a send through; any other status is a 132015/132016 rejection.
SENDABLE: Final = frozenset({"APPROVED", "REINSTATED"})
#: Events of ``message_template_status_update`` that the catalog tracks.
STATUS_EVENTS: Final = frozenset(
    {"APPROVED", "PAUSED", "DISABLED", "REINSTATED", "FLAGGED", "REJECTED", "PENDING_DELETION"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonSpec:
    """One template button at position ``index`` (0-based, as sends name it).

    ``params`` is how many parameters a send must give it (0 or 1). A ``quick_reply`` button
    may always be given one ``payload`` parameter (Meta then uses it instead of the default).
    """

    sub_type: str
    params: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSpec:
    """An approved template translation.

    ``header_format`` is ``None`` for no header; a ``text`` header takes ``header_params``
    (0 or 1) text parameters, a media header always takes exactly one media parameter.
    """

    name: str
    language: str
    category: str = "marketing"
    header_format: str | None = None
    header_params: int = 0
    body_params: int = 0
    buttons: tuple[ButtonSpec, ...] = ()

    @property
    def expected_header_params(self) -> int:
        """Parameters a send must give the header (media headers need their media)."""
        if self.header_format is None:
            return 0
        if self.header_format == "text":
            return self.header_params
        return 1

    def to_json(self, status: str) -> dict[str, Any]:
        """The shape ``GET /v1/configs/templates`` lists (360dialog ``waba_templates``)."""
        components: list[dict[str, Any]] = []
        if self.header_format == "text":
            text = "Hi {{1}}" if self.header_params else "Hi"
            components.append({"type": "HEADER", "format": "TEXT", "text": text})
        elif self.header_format is not None:
            components.append({"type": "HEADER", "format": self.header_format.upper()})
        body = "Hello" + "".join(f" {{{{{i + 1}}}}}" for i in range(self.body_params))
        components.append({"type": "BODY", "text": body})
        if self.buttons:
            components.append(
                {"type": "BUTTONS", "buttons": [_button_json(b) for b in self.buttons]}
            )
        return {
            "name": self.name,
            "language": self.language,
            "category": self.category.upper(),
            "status": status,
            "components": components,
        }


def _button_json(button: ButtonSpec) -> dict[str, Any]:
    kind = button.sub_type.upper()
    if button.sub_type == "url":
        suffix = "{{1}}" if button.params else ""
        return {"type": kind, "text": "Open", "url": "https://example.com/" + suffix}
    if button.sub_type == "copy_code":
        return {"type": kind, "example": "CODE123"}
    return {"type": kind, "text": button.sub_type.replace("_", " ").capitalize()}


def default_templates() -> tuple[TemplateSpec, ...]:
    """The catalog of the documented default sandbox."""
    return (
        TemplateSpec(name="hello_world", language="en_US", category="utility"),
        TemplateSpec(
            name="demo_promo",
            language="en",
            category="marketing",
            body_params=2,
            buttons=(ButtonSpec(sub_type="url", params=1),),
        ),
    )


class Catalog:
    """Templates by ``(name, language)`` with their live status (mutable, one event loop)."""

    __slots__ = ("_specs", "_status")

    def __init__(self, specs: Iterable[TemplateSpec]) -> None:
        self._specs: dict[tuple[str, str], TemplateSpec] = {(s.name, s.language): s for s in specs}
        self._status: dict[tuple[str, str], str] = dict.fromkeys(self._specs, "APPROVED")

    def __repr__(self) -> str:
        blocked = sum(1 for s in self._status.values() if s not in SENDABLE)
        return f"<Catalog templates={len(self._specs)} not_sendable={blocked}>"

    def get(self, name: str, language: str) -> TemplateSpec | None:
        """The spec, or ``None`` when that translation does not exist."""
        return self._specs.get((name, language))

    def specs(self) -> list[TemplateSpec]:
        """Every translation in the catalog."""
        return list(self._specs.values())

    def status(self, name: str, language: str) -> str:
        """Live status of an existing translation (``APPROVED`` when never changed)."""
        return self._status.get((name, language), "APPROVED")

    def set_status(self, name: str, language: str | None, status: str) -> list[TemplateSpec]:
        """Set the status of one translation, or of every translation of ``name``.

        Returns the specs changed (empty when the template is unknown).
        """
        changed = [
            spec
            for key, spec in self._specs.items()
            if key[0] == name and (language is None or key[1] == language)
        ]
        for spec in changed:
            self._status[(spec.name, spec.language)] = status
        return changed

    def reset(self) -> None:
        """Every template back to ``APPROVED``."""
        for key in self._status:
            self._status[key] = "APPROVED"

    def to_json(self) -> list[dict[str, Any]]:
        """All templates as 360dialog lists them."""
        return [spec.to_json(self._status[key]) for key, spec in self._specs.items()]
