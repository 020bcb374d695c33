"""Stored webhook bodies -> one batch of work for the correlator (pure, no I/O).

``collect`` decodes each body, parses it with ``engine.core.webhook`` and sorts the events
into what the store applies in one round trip each: statuses to merge, identities to
suppress or release, template announcements, governance announcements. Per body it keeps a
``problem`` text (``None`` when clean) for ``webhook_inbox.problem``.

Everything that reaches SQL is made safe here: NUL characters removed (Postgres text and
jsonb refuse them), strings capped (a btree entry must stay small), integers kept within
their column's range, timestamps within what ``datetime`` can hold. A value that cannot
be made safe is dropped with a problem, never passed on to fail the whole batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.core.classify import classify_status_error
from engine.core.codes import Action, PauseScope
from engine.core.webhook import (
    AccountUpdate,
    CapabilityUpdate,
    InboundMessage,
    QualityUpdate,
    StatusEvent,
    TemplateStatusUpdate,
    Unrecognized,
    UserPreference,
    WebhookErrors,
    is_opt_out,
    parse_webhook,
)
from engine.db.webhooks import StatusRow
from engine.webhooks.payload import decode_json, e164, parse_callback

MERGED_STATUSES = frozenset({"sent", "delivered", "read", "failed"})
_MAX_ID = 512  # Meta caps biz_opaque_callback_data at 512; wamids are far shorter
_MAX_TEXT = 1000
_MAX_TS = 2**33  # year 2242: beyond is garbage, not a timestamp
_INT4 = 2**31 - 1

Identity = tuple[str | None, str | None]  # (phone +E.164, BSUID)


def _text(value: str, limit: int) -> str:
    if not value.isascii():  # lone surrogates (valid in JSON escapes) cannot be UTF-8
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "")[:limit]


def clean(value: str | None, limit: int = _MAX_TEXT) -> str | None:
    """``value`` as storable text: UTF-8 encodable, no NUL characters, at most ``limit``
    characters; empty -> ``None``."""
    if value is None:
        return None
    return _text(value, limit) or None


def clean_json(value: Any) -> Any:
    """A JSON-like value with every string ``clean``-ed (jsonb refuses ``\\u0000``)."""
    if isinstance(value, str):
        return _text(value, _MAX_TEXT)
    if isinstance(value, dict):
        return {_text(str(k), _MAX_TEXT): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


@dataclass(slots=True)
class Governance:
    channel: str  # the channel whose URL received it
    field: str
    event: str | None
    display_phone: str | None
    tier: str | None
    payload: dict[str, Any]
    rating: str | None = None  # phone_number_quality_update quality rating, when given


@dataclass(slots=True)
class Work:
    """What one inbox batch asks of the store."""

    statuses: list[StatusRow] = field(default_factory=list)
    # (verb "stop" | "resume", source, identity) in arrival order
    opt: list[tuple[str, str, Identity]] = field(default_factory=list)
    templates: list[tuple[str, TemplateStatusUpdate]] = field(default_factory=list)
    governance: list[Governance] = field(default_factory=list)
    problems: list[str | None] = field(default_factory=list)  # one per body, in order
    ignored: int = 0  # statuses we do not merge (played, deleted, ...)
    unrecognized: int = 0  # changes of fields we do not handle

    def opt_decisions(self) -> tuple[list[str], list[str], dict[str, list[Identity]]]:
        """The last word per phone and per BSUID: ``(phones, bsuids)`` to release, then
        identities to suppress by source. Release first, suppress second: a release of a
        BSUID also deletes a row holding a phone whose last word was "stop", re-added here."""
        last: dict[tuple[int, str], tuple[int, str]] = {}
        for i, (verb, _, ident) in enumerate(self.opt):
            for part, value in enumerate(ident):
                if value:
                    last[part, value] = (i, verb)
        release: tuple[list[str], list[str]] = ([], [])
        keep: dict[int, list[str | None]] = {}
        for (part, value), (i, verb) in last.items():
            if verb == "resume":
                release[part].append(value)
            else:
                keep.setdefault(i, [None, None])[part] = value
        adds: dict[str, list[Identity]] = {}
        for i, (phone, bsuid) in sorted(keep.items()):
            adds.setdefault(self.opt[i][1], []).append((phone, bsuid))
        return release[0], release[1], adds


def _when(ts: int, now: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC) if 0 < ts < _MAX_TS else now


def status_row(ev: StatusEvent, now: dt.datetime) -> StatusRow | str:
    """The merge input for one status, or a problem text when it cannot be used."""
    wamid = clean(ev.wamid, _MAX_ID)
    if wamid is None or len(ev.wamid) > _MAX_ID:
        return f"status id unusable ({len(ev.wamid)} chars)"
    ids = parse_callback(ev.callback_data)
    code = ev.error_code if ev.error_code is not None and abs(ev.error_code) <= _INT4 else None
    first = ev.errors[0] if ev.errors else None
    detail = first.details or first.title if first is not None else None
    return StatusRow(
        wamid=wamid,
        status=ev.status,
        ts=_when(ev.timestamp, now),
        campaign_id=ids[0] if ids else None,
        message_id=ids[1] if ids else None,
        callback=clean(ev.callback_data, _MAX_ID),
        error_code=code,
        error_detail=clean(detail),
        pricing_category=clean(ev.pricing_category, 64),
        pricing_type=clean(ev.pricing_type, 64),
        billable=ev.billable,
        phone=e164(ev.recipient_id),
        bsuid=clean(ev.recipient_user_id, 256),
    )


def suppresses(code: int | None) -> bool:
    """A failed status with this code means the user opted out (131050)."""
    return code is not None and classify_status_error(code).suppress


def burst_scope(code: int | None) -> PauseScope | None:
    """The scope a failed status with this code counts towards (a burst of them holds it):
    132015 -> template, 131048 -> channel, ...; ``None`` for codes that pause nothing."""
    if code is None:
        return None
    rule = classify_status_error(code)
    if rule.action is not Action.PAUSE:
        return None
    return rule.scope or PauseScope.CAMPAIGN


def collect(
    rows: Iterable[tuple[str, bytes]],
    *,
    tokens: Sequence[str],
    extra_payloads: Sequence[str],
    now: dt.datetime,
) -> Work:
    """Parse ``(channel, body)`` pairs in inbox order into one :class:`Work`."""
    work = Work()
    for channel, body in rows:
        problems: list[str] = []
        try:
            payload = decode_json(body)
        except ValueError as exc:
            work.problems.append(f"body: {exc}")
            continue
        result = parse_webhook(payload)
        problems.extend(result.problems)
        for ev in result.events:
            note = _one(work, channel, ev, tokens, extra_payloads, now)
            if note:
                problems.append(note)
        work.problems.append(clean("; ".join(problems)) if problems else None)
    return work


def _identity(phone: str | None, user_id: str | None) -> Identity | None:
    ident = (e164(phone), clean(user_id, 256))
    return ident if ident != (None, None) else None


def _one(
    work: Work,
    channel: str,
    ev: object,
    tokens: Sequence[str],
    extra: Sequence[str],
    now: dt.datetime,
) -> str | None:
    if isinstance(ev, StatusEvent):
        if ev.status not in MERGED_STATUSES:
            work.ignored += 1
            return None
        row = status_row(ev, now)
        if isinstance(row, str):
            return row
        work.statuses.append(row)
        if row.status == "failed" and suppresses(row.error_code):
            ident = _identity(ev.recipient_id, ev.recipient_user_id)
            if ident:
                work.opt.append(("stop", "status_131050", ident))
    elif isinstance(ev, InboundMessage):
        replies = (ev.text, ev.button_payload)
        if any(is_opt_out(r, tokens, extra) for r in replies if r):
            ident = _identity(ev.from_phone, ev.user_id)
            if ident:
                work.opt.append(("stop", "inbound_reply", ident))
    elif isinstance(ev, UserPreference):
        ident = _identity(ev.wa_id, ev.user_id)
        if ident:
            work.opt.append((ev.value, "user_preferences", ident))
    elif isinstance(ev, TemplateStatusUpdate):
        if not ev.template_name:
            return "template status update without a template name"
        work.templates.append((channel, ev))
    elif isinstance(ev, QualityUpdate | CapabilityUpdate | AccountUpdate):
        work.governance.append(_governance(channel, ev))
    elif isinstance(ev, Unrecognized):
        work.unrecognized += 1
    elif isinstance(ev, WebhookErrors):
        codes = ",".join(str(e.code) for e in ev.errors)
        return f"out-of-band errors: {codes}"
    return None


def _governance(channel: str, ev: QualityUpdate | CapabilityUpdate | AccountUpdate) -> Governance:
    payload = clean_json(asdict(ev))
    if isinstance(ev, QualityUpdate):
        return Governance(
            channel, "phone_number_quality_update", ev.event, ev.display_phone_number,
            ev.limit_str, payload, ev.rating,
        )  # fmt: skip
    if isinstance(ev, CapabilityUpdate):
        return Governance(channel, "business_capability_update", None, None, ev.limit, payload)
    return Governance(channel, "account_update", ev.event, None, None, payload)
