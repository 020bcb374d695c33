"""Message and campaign state machines as explicit transition tables.

The tables here are the single source of truth for which state changes are legal. The
runtime checks a change with :func:`check_transition` before asking the store for it, and
the store guards the same set in SQL with :func:`allowed_sources`::

    UPDATE messages SET state = 'accepted', ...
     WHERE id = ANY($1) AND state = ANY($2)      -- $2 = allowed_sources(MessageState.ACCEPTED)

so a stale worker can never move a row along an edge that is not in the table.

Message lifecycle (one outbox row per campaign x recipient)::

    pending   -> in_flight (claim) | suppressed (opt-out) | cancelled (campaign cancelled)
    in_flight -> accepted (200 + wamid) | failed (permanent, or retries spent)
               | unknown (timeout/reset after the request left)
               | pending (retry at retry_at, pause, window/budget deferral, lease recovery)
               | suppressed (opt-out learned at send time, e.g. sync 131050)
    unknown   -> accepted (webhook with our callback data) | failed (failed webhook or
                 on_unknown=fail) | pending (on_unknown=resend after the grace period)
    accepted  -> failed (failed status webhook)
    failed    -> pending (explicit ``campaign retry NAME --codes ...``)
               | accepted (a delivered/read webhook after a failed one: see ``merge``)

Same-state "transitions" are not transitions: :func:`check_transition` rejects them, so a
caller that wants to reschedule a pending row updates ``retry_at`` without a state change.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, TypeVar

from engine.errors import EngineError

__all__ = [
    "CAMPAIGN_TRANSITIONS",
    "MESSAGE_TRANSITIONS",
    "OPEN_MESSAGE_STATES",
    "TERMINAL_CAMPAIGN_STATES",
    "CampaignState",
    "MessageState",
    "StateKind",
    "TransitionError",
    "allowed_sources",
    "allowed_targets",
    "check_transition",
    "is_allowed",
]


class MessageState(StrEnum):
    """State of one outbox row. Values are the strings stored in ``messages.state``."""

    PENDING = "pending"  # waiting to be claimed (possibly not before retry_at)
    IN_FLIGHT = "in_flight"  # claimed by a sender; the POST may be under way
    ACCEPTED = "accepted"  # the API answered 200 with a wamid
    FAILED = "failed"  # permanent failure (sync error, retries spent, failed webhook)
    UNKNOWN = "unknown"  # the POST may or may not have been accepted (timeout after send)
    SUPPRESSED = "suppressed"  # not sent: the recipient opted out / is suppressed
    CANCELLED = "cancelled"  # not sent: the campaign was cancelled


class CampaignState(StrEnum):
    """State of a campaign. Values are the strings stored in ``campaigns.state``."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    THROTTLED = "throttled"  # running, but held back (tier budget, window, rate limit)
    PAUSED = "paused"  # by an operator or by a pause-scope error / webhook
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class StateKind(StrEnum):
    """Which machine a transition belongs to."""

    MESSAGE = "message"
    CAMPAIGN = "campaign"


class TransitionError(EngineError, ValueError):
    """A state change that is not in the transition table (a bug or a stale caller).

    Carries ``kind``, ``old`` and ``new`` as plain strings for logging.
    """

    def __init__(self, kind: str, old: str, new: str, reason: str = "not allowed") -> None:
        self.kind = kind
        self.old = old
        self.new = new
        super().__init__(f"{kind} transition {old!r} -> {new!r}: {reason}")


_M = MessageState
_C = CampaignState

MESSAGE_TRANSITIONS: Final[Mapping[MessageState, frozenset[MessageState]]] = {
    # claim; opt-out found before sending; campaign cancelled
    _M.PENDING: frozenset({_M.IN_FLIGHT, _M.SUPPRESSED, _M.CANCELLED}),
    _M.IN_FLIGHT: frozenset(
        {
            _M.ACCEPTED,  # 200 with a wamid
            _M.FAILED,  # permanent error, or retries spent
            _M.UNKNOWN,  # ambiguous: the request may have reached the API
            _M.PENDING,  # retry at retry_at; pause; window/budget deferral; lease recovery
            _M.SUPPRESSED,  # opt-out discovered at send time (e.g. sync 131050)
        }
    ),
    _M.UNKNOWN: frozenset(
        {
            _M.ACCEPTED,  # settled by a sent/delivered/read webhook carrying callback data
            _M.PENDING,  # on_unknown=resend, after the grace period passed in silence
            _M.FAILED,  # failed webhook, or on_unknown=fail after grace
        }
    ),
    _M.ACCEPTED: frozenset({_M.FAILED}),  # failed status webhook
    _M.FAILED: frozenset(
        {
            _M.PENDING,  # explicit `campaign retry NAME --codes ...`
            _M.ACCEPTED,  # delivered/read outranks failed (multi-device), see core.merge
        }
    ),
    _M.SUPPRESSED: frozenset(),
    _M.CANCELLED: frozenset(),
}

CAMPAIGN_TRANSITIONS: Final[Mapping[CampaignState, frozenset[CampaignState]]] = {
    _C.SCHEDULED: frozenset({_C.RUNNING, _C.PAUSED, _C.CANCELLED, _C.FAILED}),
    _C.RUNNING: frozenset({_C.THROTTLED, _C.PAUSED, _C.COMPLETED, _C.CANCELLED, _C.FAILED}),
    _C.THROTTLED: frozenset({_C.RUNNING, _C.PAUSED, _C.COMPLETED, _C.CANCELLED, _C.FAILED}),
    _C.PAUSED: frozenset({_C.RUNNING, _C.SCHEDULED, _C.CANCELLED, _C.FAILED}),
    # `campaign retry` re-opens a finished campaign; the next `run` picks it up
    _C.COMPLETED: frozenset({_C.SCHEDULED}),
    _C.FAILED: frozenset({_C.SCHEDULED}),
    _C.CANCELLED: frozenset(),
}

#: Rows still owed an outcome; a campaign is complete when none are left.
OPEN_MESSAGE_STATES: Final[frozenset[MessageState]] = frozenset(
    {_M.PENDING, _M.IN_FLIGHT, _M.UNKNOWN}
)
#: Campaign states a job does not send in without an explicit operator action.
TERMINAL_CAMPAIGN_STATES: Final[frozenset[CampaignState]] = frozenset(
    {_C.COMPLETED, _C.CANCELLED, _C.FAILED}
)

_S = TypeVar("_S", MessageState, CampaignState)


def _as_strings(table: Mapping[_S, frozenset[_S]]) -> Mapping[str, frozenset[str]]:
    return {src.value: frozenset(t.value for t in targets) for src, targets in table.items()}


_EDGES: Final[Mapping[StateKind, Mapping[str, frozenset[str]]]] = {
    StateKind.MESSAGE: _as_strings(MESSAGE_TRANSITIONS),
    StateKind.CAMPAIGN: _as_strings(CAMPAIGN_TRANSITIONS),
}


def _kind_of(state: MessageState | CampaignState) -> StateKind:
    return StateKind.MESSAGE if isinstance(state, MessageState) else StateKind.CAMPAIGN


def check_transition(kind: StateKind | str, old: str, new: str) -> None:
    """Raise :class:`TransitionError` unless ``old -> new`` is allowed for ``kind``.

    ``kind`` is ``"message"`` or ``"campaign"``; ``old``/``new`` are enum members or their
    string values. An unknown kind or state, or a same-state change, raises too.
    """
    try:
        k = StateKind(kind)
    except ValueError:
        raise TransitionError(str(kind), str(old), str(new), "unknown kind") from None
    edges = _EDGES[k]
    src, dst = str(old), str(new)
    for state in (src, dst):
        if state not in edges:
            raise TransitionError(k.value, src, dst, f"unknown state {state!r}")
    if src == dst:
        raise TransitionError(k.value, src, dst, "same state")
    if dst not in edges[src]:
        raise TransitionError(k.value, src, dst)


def is_allowed(kind: StateKind | str, old: str, new: str) -> bool:
    """True when ``old -> new`` is an edge of the ``kind`` machine (never raises)."""
    try:
        check_transition(kind, old, new)
    except TransitionError:
        return False
    return True


def allowed_targets(old: MessageState | CampaignState) -> tuple[str, ...]:
    """States reachable from ``old`` in one step, sorted, as stored strings."""
    return tuple(sorted(_EDGES[_kind_of(old)][old.value]))


def allowed_sources(new: MessageState | CampaignState) -> tuple[str, ...]:
    """States from which ``new`` may be entered, sorted, for ``WHERE state = ANY($n)``.

    The machine is inferred from the enum type of ``new``. The tuple is never empty for a
    state that has an incoming edge; ``pending`` rows are also created by insert.
    """
    edges = _EDGES[_kind_of(new)]
    return tuple(sorted(src for src, targets in edges.items() if new.value in targets))


def final_campaign_state(*, accepted: int, failed: int) -> CampaignState:
    """The state a campaign ends in once no row is open.

    ``FAILED`` when sends were attempted and not one was accepted (every row failed, by
    permanent errors, spent retries or render errors): the usual cause is the spec, the
    template or the account, and ``completed`` would hide it. Anything accepted, or nothing
    to send at all (every recipient suppressed), is ``COMPLETED``.
    """
    if accepted == 0 and failed > 0:
        return CampaignState.FAILED
    return CampaignState.COMPLETED
