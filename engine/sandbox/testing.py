"""Harnesses to run the sandbox from tests, benchmarks and the demo.

- ``running_sandbox(config, seed)``: in-process, on the current event loop, 127.0.0.1 and
  a free port. Cheap; shares the CPU with the caller (fine for functional tests).
- ``SandboxProcess(config=..., seed=...)``: ``python -m engine.sandbox.cli`` in a child
  process (optionally pinned with ``taskset``), so benchmarks and end-to-end runs do not
  share a core with the engine. Terminated with SIGTERM on exit (SIGKILL after a grace).

Both expose ``base_url``, ``await stats()``, ``await reset()`` and ``await
wait_idle()`` (until no webhook is pending).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
import yaml
from aiohttp import web

from engine.sandbox.app import STATE, SandboxState, make_app
from engine.sandbox.config import SandboxConfig
from engine.sandbox.document import sandbox_config_to_dict

_STARTUP_TIMEOUT_S = 20.0
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class _Client:
    """HTTP helpers shared by both harnesses (own session, loopback only)."""

    base_url: str
    _session: aiohttp.ClientSession | None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The harness's own client session (open while the harness runs)."""
        assert self._session is not None, "harness not running"
        return self._session

    async def post_json(
        self, path: str, body: Any, *, api_key: str | None = "sandbox-key"
    ) -> tuple[int, Any]:
        """POST ``body`` (JSON, or raw ``bytes``) with ``D360-API-KEY``; (status, JSON or None)."""
        headers = {"Content-Type": "application/json"}
        if api_key is not None:
            headers["D360-API-KEY"] = api_key
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        async with self.session.post(self.base_url + path, data=data, headers=headers) as resp:
            raw = await resp.read()
            return resp.status, orjson.loads(raw) if raw else None

    async def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``."""
        assert self._session is not None
        async with self._session.get(self.base_url + "/_sandbox/stats") as resp:
            resp.raise_for_status()
            data: dict[str, Any] = orjson.loads(await resp.read())
            return data

    async def reset(self) -> None:
        """``POST /_sandbox/reset``."""
        assert self._session is not None
        async with self._session.post(self.base_url + "/_sandbox/reset") as resp:
            resp.raise_for_status()

    async def event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/events``; returns the answer (``queued``, ``payload``)."""
        assert self._session is not None
        async with self._session.post(self.base_url + "/_sandbox/events", json=event) as resp:
            data: dict[str, Any] = orjson.loads(await resp.read())
            if resp.status != 200:
                raise ValueError(f"event refused: {data}")
            return data

    async def wait_idle(self, timeout_s: float = 30.0, poll_s: float = 0.02) -> dict[str, Any]:
        """Poll stats until ``webhooks_pending`` is 0; returns the last stats."""
        async with asyncio.timeout(timeout_s):
            while True:
                stats = await self.stats()
                if stats["webhooks_pending"] == 0:
                    return stats
                await asyncio.sleep(poll_s)


class RunningSandbox(_Client):
    """An in-process sandbox; ``state`` gives direct access to its internals."""

    def __init__(self, base_url: str, state: SandboxState, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.state = state
        self._session = session

    def __repr__(self) -> str:
        return f"<RunningSandbox {self.base_url} {self.state!r}>"


@contextlib.asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None,
    seed: int = 0,
    *,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[RunningSandbox]:
    """Run the app on 127.0.0.1:<free port> for the duration of the block."""
    app = make_app(config, seed=seed, clock=clock)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    try:
        async with aiohttp.ClientSession() as session:
            yield RunningSandbox(f"http://127.0.0.1:{port}", app[STATE], session)
    finally:
        await runner.cleanup()


class SandboxProcess(_Client):
    """The sandbox in a subprocess: ``async with SandboxProcess(config=...) as sb: sb.base_url``.

    ``config`` is a YAML path, a dict in the YAML shape or a ``SandboxConfig`` (written to
    a temporary file), or None for the default sandbox. ``cpu`` pins the child to that
    core with ``taskset`` when available. Startup fails with ``RuntimeError`` carrying the
    child's stderr.
    """

    def __init__(
        self,
        *,
        config: str | Path | Mapping[str, Any] | SandboxConfig | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        cpu: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._config = config
        self._seed = seed
        self._host = host
        self._cpu = cpu
        self._env = env
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr_tail = bytearray()
        self._session = None
        self.base_url = ""
        self.port = 0

    def __repr__(self) -> str:
        pid = self._proc.pid if self._proc else None
        return f"<SandboxProcess pid={pid} {self.base_url or 'not started'}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "engine.sandbox.cli", "--host", self._host, "--port", "0"]
        cmd += ["--seed", str(self._seed)]
        config = self._config
        if isinstance(config, SandboxConfig):
            config = sandbox_config_to_dict(config)
        if isinstance(config, Mapping):
            self._tmpdir = tempfile.TemporaryDirectory(prefix="sandbox-")
            path = Path(self._tmpdir.name) / "sandbox.yaml"
            path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
            config = path
        if config is not None:
            cmd += ["--config", str(config)]
        if self._cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(self._cpu), *cmd]
        return cmd

    async def __aenter__(self) -> SandboxProcess:
        env = dict(os.environ if self._env is None else self._env)
        env["PYTHONPATH"] = _PROJECT_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self._proc = await asyncio.create_subprocess_exec(
            *self._command(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert self._proc.stdout is not None
        self._stderr_task = asyncio.create_task(self._drain_stderr(), name="sandbox-stderr")
        try:
            async with asyncio.timeout(_STARTUP_TIMEOUT_S):
                line = await self._proc.stdout.readline()
        except TimeoutError:
            line = b""
        if not line:
            await self._close()
            raise RuntimeError(f"sandbox did not start: {self.stderr_tail or 'no output'}")
        announce = orjson.loads(line)
        self.base_url = str(announce["base_url"])
        self.port = int(announce["port"])
        self._session = aiohttp.ClientSession()
        return self

    @property
    def stderr_tail(self) -> str:
        """The last 64 KiB the child wrote on stderr."""
        return self._stderr_tail.decode(errors="replace").strip()

    async def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(65536):
            self._stderr_tail += chunk
            del self._stderr_tail[:-65536]

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            async with asyncio.timeout(10.0):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._terminate()
        if self._stderr_task is not None:
            await self._stderr_task
            self._stderr_task = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
