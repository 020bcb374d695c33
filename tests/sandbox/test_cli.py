"""``python -m engine.sandbox.cli`` as a real process: announce line, signals, exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import SandboxProcess
from tests.sandbox.conftest import Receiver, hello, send
from tests.sandbox.test_config import EXAMPLE
from tests.sandbox.test_webhooks import hooks

ROOT = Path(__file__).resolve().parents[2]
uvloop_only = pytest.mark.asyncio(loop_factories=["uvloop"])  # real processes: one loop is enough


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.sandbox.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@uvloop_only
async def test_process_announces_serves_and_stops_cleanly() -> None:
    async with SandboxProcess(config=EXAMPLE, seed=3) as sb:
        assert sb.base_url == f"http://127.0.0.1:{sb.port}"
        status, body = await send(sb, hello(), key="acme-key-1")
        assert status == 200
        assert body["messages"][0]["id"].startswith("wamid.")
        stats = await sb.stats()
        assert stats["accepted"] == 1
        proc = sb._proc
    assert proc is not None and proc.returncode == 0  # SIGTERM is a graceful stop


@uvloop_only
async def test_same_seed_same_wamids_and_statuses(receiver: Receiver) -> None:
    outcomes = []
    data = hooks(receiver.url, {"delivered_ratio": 0.5, "read_ratio": 0.5})
    # a YAML-shaped dict, the same as a SandboxConfig object, then another seed
    configs: list[Any] = [data, sandbox_config_from_dict(data), data]
    for seed, config in zip((9, 9, 10), configs, strict=True):
        receiver.posts.clear()
        async with SandboxProcess(config=config, seed=seed) as sb:
            wamids = [
                (await send(sb, hello(to=f"1555100{i:04d}")))[1]["messages"][0]["id"]
                for i in range(20)
            ]
            await sb.wait_idle()
        statuses = sorted((s["id"], s["status"]) for s in receiver.statuses())
        outcomes.append((wamids, statuses))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] != outcomes[2][0]
    assert len(set(outcomes[0][0])) == 20


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.yaml"
    path.write_text("faults:\n  hang_ratio: 2\n", encoding="utf-8")
    result = _run("--config", str(path), "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        str(path) in lines[0] and "faults.hang_ratio" in lines[0] and "between 0 and 1" in lines[0]
    )
    assert result.stdout == ""


def test_busy_port_is_exit_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _run("--port", str(port))
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_main_rejects_bad_port() -> None:
    from engine.sandbox.cli import main

    assert main(["--port", "70000"]) == 2
