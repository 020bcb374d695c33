"""A faithful local 360dialog (waba-v2) simulator with a status-webhook emitter.

Entry points: ``cli.main`` (``campaign sandbox``), ``app.make_app``, and the harnesses in
``testing`` (``running_sandbox``, ``SandboxProcess``). Configuration: ``config``.
"""
