"""From a send result to an outbox outcome plus side effects, using the core registry.

The decider is the runtime's thin shell around the pure core: ``core.classify`` names the
action, ``core.retry`` the delay; this module turns them into an ``OutcomeRow`` (what the
recorder writes) and ``Effect``s (what the job must do: slow the pacer, pause, suppress).

Rules beyond the registry:
- THROTTLE rejections (130429, gateway 429/503) do not count as attempts: the message was
  refused before it went anywhere, and a throttling storm must never fail recipients.
- PAUSE requeues the row without counting the attempt; a timed pause (131057) holds the
  channel for ``pause_s`` and resumes by itself.
- ``payload_fail_threshold`` consecutive payload failures (132000, 132001, ...) pause the
  campaign: every other recipient would fail the same way.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from engine.core.classify import (
    Accepted,
    Ambiguous,
    Outcome,
    Refused,
    TransportFailure,
    classify_response,
    classify_transport,
)
from engine.core.codes import Action
from engine.core.render import RenderError, build_message_body, render_template
from engine.core.retry import RetryPolicy, next_retry_delay
from engine.db.outbox import ClaimedRow, OutcomeRow
from engine.run.settings import JobSettings
from engine.wa.client import SendResult

PAYLOAD_FAIL_THRESHOLD = 20


@dataclass(frozen=True, slots=True)
class Throttle:
    reason: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop sending for ``scope`` (a ``PauseScope`` value): untimed (``pause_s`` None) until
    resumed, or timed. ``source`` names what decided it (``send_error``, ``health``, ...)."""

    scope: str
    reason: str
    pause_s: float | None = None
    source: str = "send_error"


@dataclass(frozen=True, slots=True)
class Suppress:
    phone: str
    reason: str


Effect = Throttle | Pause | Suppress


def callback_data(campaign_id: int, message_id: int) -> str:
    """``biz_opaque_callback_data``: names campaign and message; parsed by the correlator."""
    return f"c{campaign_id}:m{message_id}"


class Decider:
    def __init__(self, settings: JobSettings, campaign_id: int, *, seed: int | None = None) -> None:
        profile = settings.spec.profile
        self._policy = RetryPolicy(
            base_s=profile.backoff.base_s,
            max_s=profile.backoff.max_s,
            jitter=profile.backoff.jitter,
            max_attempts=settings.max_attempts,
        )
        self._throttle_policy = dataclasses.replace(self._policy, max_attempts=1 << 30)
        self._plan = settings.spec.plan
        self._campaign_id = campaign_id
        self._rng = random.Random(seed)
        self._payload_failures = 0

    def __repr__(self) -> str:
        return (
            f"Decider(campaign_id={self._campaign_id}, payload_failures={self._payload_failures})"
        )

    def build_body(self, row: ClaimedRow) -> bytes | str:
        """The serialized POST body, or a render problem (the row fails, no HTTP call)."""
        rendered = render_template(self._plan, row.attrs)
        if isinstance(rendered, RenderError):
            return rendered.detail
        return orjson.dumps(
            build_message_body(row.phone, rendered, callback_data(self._campaign_id, row.id))
        )

    def decide(self, row: ClaimedRow, result: SendResult) -> tuple[OutcomeRow, list[Effect]]:
        return self.apply(row, _classify(result), datetime.now(UTC))

    def apply(
        self, row: ClaimedRow, outcome: Outcome, now: datetime
    ) -> tuple[OutcomeRow, list[Effect]]:
        """Pure given ``now`` and the seeded rng: the outcome row and effects."""
        if isinstance(outcome, Accepted):
            self._payload_failures = 0
            return (
                OutcomeRow(
                    row.id,
                    "accepted",
                    now,
                    wamid=outcome.wamid,
                    message_status=outcome.message_status,
                    phone=row.phone,
                ),
                [],
            )
        if isinstance(outcome, Ambiguous):
            detail = f"{outcome.reason}: {outcome.detail}".rstrip(": ")
            return OutcomeRow(row.id, "unknown", now, error_detail=detail[:300]), []
        return self._refused(row, outcome, now)

    def _refused(
        self, row: ClaimedRow, r: Refused, now: datetime
    ) -> tuple[OutcomeRow, list[Effect]]:
        detail = f"{r.reason}: {r.detail}".rstrip(": ")[:300]
        effects: list[Effect] = []
        if r.action is Action.PAUSE:
            scope = r.scope.value if r.scope else "campaign"
            effects.append(
                Pause(scope, f"{r.code_label} ({scope}): {r.detail or r.reason}"[:200], r.pause_s)
            )
            retry_at = now + timedelta(seconds=r.pause_s or 0)
            return (
                OutcomeRow(
                    row.id,
                    "pending",
                    now,
                    retry_at=retry_at,
                    error_code=r.code,
                    error_detail=detail,
                    refund=1,
                ),
                effects,
            )
        if r.action in (Action.FAIL_RECIPIENT, Action.FAIL_PAYLOAD):
            if r.suppress:
                effects.append(Suppress(row.phone, r.code_label))
            if r.action is Action.FAIL_PAYLOAD:
                self._payload_failures += 1
                if self._payload_failures == PAYLOAD_FAIL_THRESHOLD:
                    effects.append(
                        Pause(
                            "campaign",
                            (
                                f"{PAYLOAD_FAIL_THRESHOLD} consecutive payload errors, "
                                f"last {r.code_label}: {r.detail}"
                            )[:200],
                        )
                    )
            return OutcomeRow(
                row.id, "failed", now, error_code=r.code, error_detail=detail
            ), effects
        if r.action is Action.THROTTLE:
            effects.append(Throttle(r.code_label))
            delay = next_retry_delay(
                self._throttle_policy, max(1, row.attempts), r.action, self._rng
            )
            assert delay is not None
            return (
                OutcomeRow(
                    row.id,
                    "pending",
                    now,
                    retry_at=now + timedelta(seconds=delay),
                    error_code=r.code,
                    error_detail=detail,
                    refund=1,
                ),
                effects,
            )
        delay = next_retry_delay(
            self._policy,
            max(1, row.attempts),
            r.action,
            self._rng,
            retry_after_min_s=r.retry_after_min_s,
            max_attempts=r.max_attempts,
        )
        if delay is None:
            return OutcomeRow(
                row.id,
                "failed",
                now,
                error_code=r.code,
                error_detail=f"retries exhausted after {row.attempts}: {detail}"[:300],
            ), effects
        return (
            OutcomeRow(
                row.id,
                "pending",
                now,
                retry_at=now + timedelta(seconds=delay),
                error_code=r.code,
                error_detail=detail,
            ),
            effects,
        )


def _classify(result: SendResult) -> Outcome:
    if result.kind == "http":
        return classify_response(result.status, result.body)
    if result.kind == "not_sent":
        return classify_transport(TransportFailure.CONNECT_FAILED)
    if result.detail.startswith("timeout"):
        return classify_transport(TransportFailure.TIMEOUT_AFTER_SEND)
    return classify_transport(TransportFailure.RESET_AFTER_SEND)
