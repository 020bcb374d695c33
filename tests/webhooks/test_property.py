"""Property: whatever is posted, the receiver never answers 5xx and the correlator survives.

Hypothesis runs in a worker thread (it is synchronous); each example is posted over real
HTTP to the receiver running on the test's event loop. After the run a valid status must
still be applied, i.e. the correlator kept going through everything it was fed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.webhooks.receiver import RunningReceiver
from tests.webhooks.helpers import (
    CHANNEL,
    drained,
    eventually,
    headers,
    seed_campaign,
    status,
    statuses_body,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["sent", "delivered", "read", "failed", "STOP", "PAUSED", "TIER_2K", "\x00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
STATUS_KEYS = [
    "id", "status", "timestamp", "recipient_id", "recipient_user_id",
    "biz_opaque_callback_data", "errors", "pricing", "conversation",
]  # fmt: skip
FIELDS = [
    "messages", "user_preferences", "message_template_status_update",
    "phone_number_quality_update", "business_capability_update", "account_update", "other",
]  # fmt: skip


def _status_item() -> st.SearchStrategy[dict[str, Any]]:
    values = json_values | st.sampled_from(["wamid.p.0", "c1:m1", "c99999999999:m1", "9" * 30])
    errors = st.lists(
        st.fixed_dictionaries({"code": st.integers() | st.text(max_size=8)}), max_size=2
    )
    return st.dictionaries(
        st.sampled_from(STATUS_KEYS), values, max_size=9
    ) | st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=600),
            "status": st.sampled_from(["sent", "delivered", "read", "failed", "played"]),
            "timestamp": st.integers(min_value=-10, max_value=2**40) | st.text(max_size=12),
            "errors": errors,
            "biz_opaque_callback_data": st.text(max_size=30) | st.just("c1:m1"),
        }
    )


meta_like = st.builds(
    lambda field, value, statuses, extra: {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [{"field": field, "value": {**value, **extra, "statuses": statuses}}],
            }
        ],
    },
    st.sampled_from(FIELDS),
    st.dictionaries(st.text(max_size=30), json_values, max_size=5),
    st.lists(_status_item(), max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "event": json_values,
            "message_template_name": json_values,
            "max_daily_conversations_per_business": json_values,
            "user_preferences": st.lists(
                st.dictionaries(st.sampled_from(["wa_id", "user_id", "value"]), json_values)
            ),
            "messages": st.lists(
                st.dictionaries(st.sampled_from(["from", "type", "text", "button"]), json_values)
            ),
            "display_phone_number": json_values,
        },
    ),
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(lambda v: json.dumps(v).encode()),
    meta_like.map(lambda v: json.dumps(v).encode()),
)


async def test_no_5xx_and_the_correlator_never_stops(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="prop", recipients=1)
    loop = asyncio.get_running_loop()
    url = f"{receiver.url}/webhooks/{CHANNEL}"

    async def post(body: bytes) -> int:
        async with http.post(url, data=body, headers=headers()) as resp:
            await resp.read()
            return resp.status

    seen: dict[int, int] = {}

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(bodies)
    def check(body: bytes) -> None:
        code = asyncio.run_coroutine_threadsafe(post(body), loop).result(timeout=30)
        seen[code] = seen.get(code, 0) + 1
        assert code in (200, 400), (code, body[:200])

    await asyncio.to_thread(check)
    assert seen.get(200, 0) > 0
    await eventually(lambda: drained(db), timeout_s=30)
    assert receiver.correlator is not None and receiver.correlator.alive
    # the correlator still applies a valid status after everything above
    async with http.post(
        url, data=statuses_body(status("wamid.prop.0", "delivered", 5)), headers=headers()
    ) as r:
        assert r.status == 200
    got = await eventually(
        lambda: db.fetchval(
            "SELECT status FROM messages WHERE id = $1 AND status IS NOT NULL", seed.message_ids[0]
        )
    )
    assert got == "delivered"
