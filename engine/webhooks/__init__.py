"""The status webhook receiver: authenticated intake, group-commit inbox, correlator.

- ``settings``: who may post (per-channel secrets from the environment), limits, knobs.
- ``inbox``: the group-commit writer (many requests share one INSERT and one commit).
- ``receiver``: the aiohttp app (``build_receiver_app``) and ``running_receiver``.
- ``correlator``: claims stored bodies and applies them to the outbox and the campaigns.
- ``configure``: points 360dialog's webhook for a channel at a URL.
"""
