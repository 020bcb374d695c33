"""The decider: send results to outbox outcomes and effects (registry + retry policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from engine.core.classify import classify_response, classify_transport
from engine.db.outbox import ClaimedRow
from engine.paths import CAMPAIGNS_DIR
from engine.run.decide import Decider, Pause, Suppress, Throttle, callback_data
from engine.run.settings import load_job_settings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def decider() -> Decider:
    settings = load_job_settings(
        CAMPAIGNS_DIR / "example-sandbox.yaml", profile_override=None, environ={"D360_API_KEY": "k"}
    )
    return Decider(settings, campaign_id=7, seed=1)


def row(attempts: int = 1, **attrs: str) -> ClaimedRow:
    base = {
        "first_name": "Ana",
        "code": "X1",
        "price": "€1",
        "amount_1000": "1000",
        "valid_until": "May 1",
    }
    return ClaimedRow(id=42, phone="+4915123456789", attempts=attempts, attrs={**base, **attrs})


def meta_error(code: int) -> dict[str, object]:
    return {
        "error": {
            "code": code,
            "message": "x",
            "type": "OAuthException",
            "error_data": {"details": "d"},
            "fbtrace_id": "f",
        }
    }


def test_body_names_campaign_and_message(decider: Decider) -> None:
    body = decider.build_body(row())
    assert isinstance(body, bytes)
    data = orjson.loads(body)
    assert data["biz_opaque_callback_data"] == callback_data(7, 42) == "c7:m42"
    assert data["to"] == "4915123456789"


def test_missing_attribute_is_a_render_error(decider: Decider) -> None:
    r = ClaimedRow(id=1, phone="+4915123456789", attempts=1, attrs={})
    assert isinstance(decider.build_body(r), str)


def test_accepted_records_wamid(decider: Decider) -> None:
    ok = {"messages": [{"id": "wamid.X", "message_status": "held_for_quality_assessment"}]}
    out, effects = decider.apply(row(), classify_response(200, ok), NOW)
    assert (out.state, out.wamid, out.message_status) == (
        "accepted",
        "wamid.X",
        "held_for_quality_assessment",
    )
    assert effects == []


def test_throttle_requeues_without_counting_and_slows_pacer(decider: Decider) -> None:
    out, effects = decider.apply(row(attempts=4), classify_response(429, meta_error(130429)), NOW)
    assert out.state == "pending" and out.refund == 1 and out.retry_at is not None
    assert any(isinstance(e, Throttle) for e in effects)


def test_transient_retries_then_fails(decider: Decider) -> None:
    out, _ = decider.apply(row(attempts=1), classify_response(500, meta_error(131000)), NOW)
    assert out.state == "pending" and out.retry_at is not None and out.retry_at > NOW
    out, _ = decider.apply(row(attempts=50), classify_response(500, meta_error(131000)), NOW)
    assert out.state == "failed" and out.error_code == 131000


def test_pair_limit_backs_off_this_recipient(decider: Decider) -> None:
    out, effects = decider.apply(row(attempts=1), classify_response(400, meta_error(131056)), NOW)
    assert out.state == "pending" and effects == []
    assert out.retry_at is not None and out.retry_at - NOW >= timedelta(seconds=1)


def test_permanent_fails_and_opt_out_suppresses(decider: Decider) -> None:
    out, effects = decider.apply(row(), classify_response(400, meta_error(131050)), NOW)
    assert out.state == "failed" and out.error_code == 131050
    assert any(isinstance(e, Suppress) for e in effects)


def test_bad_key_pauses_without_counting_attempt(decider: Decider) -> None:
    out, effects = decider.apply(row(), classify_response(401, {"error": "Invalid api_key"}), NOW)
    assert out.state == "pending" and out.refund == 1
    assert any(isinstance(e, Pause) for e in effects)


def test_timeout_after_send_is_unknown(decider: Decider) -> None:
    out, _ = decider.apply(row(), classify_transport("timeout_after_send"), NOW)
    assert out.state == "unknown"
    out, _ = decider.apply(row(), classify_transport("connect_failed"), NOW)
    assert out.state == "pending"


def test_run_of_payload_errors_pauses_campaign(decider: Decider) -> None:
    effects_seen = []
    for _ in range(25):
        out, effects = decider.apply(row(), classify_response(400, meta_error(132000)), NOW)
        assert out.state == "failed"
        effects_seen.extend(effects)
    assert sum(isinstance(e, Pause) for e in effects_seen) == 1
