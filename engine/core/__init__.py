"""Pure core: decisions as functions over state, with ``now`` passed in.

Nothing here imports asyncio, aiohttp, asyncpg, structlog or any adapter/runtime package
(``tests/unit/test_import_direction.py`` enforces it). Modules, one noun each:

- ``states``   message and campaign state machines (transition tables, SQL guard sets)
- ``merge``    monotonic merge of webhook statuses (sent < delivered < read; failed)
- ``codes``    the WhatsApp / 360dialog error registry (code -> rule)
- ``classify`` send responses, transport failures and failed statuses -> outcomes
- ``retry``    backoff schedules (exponential with jitter, pair-limit 4^x)
- ``pacing``   AIMD rate, token bucket, circuit breaker
- ``budget``   messaging-limit tiers and the rolling 24 h unique-recipient budget
- ``windows``  send windows in the recipient's (or a fixed) time zone
- ``webhook``  webhook body -> typed events; opt-out detection
"""
