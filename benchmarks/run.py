"""``make bench``: every benchmark in one invocation, written to ``benchmarks/RESULTS.md`` and
``benchmarks/results.json``.

Each section runs as its own child process (``python -m benchmarks.<module> ... --json``) so
CPU affinity, event loops and memory never leak from one section into the next; this
process only sequences them, keeps their JSON and renders the Markdown.

Sections, in order (about 8 minutes in all on a 2-vCPU machine; ``--quick`` about 2):

=========  ==========================================================  ==========  =======
name       what                                                        full        quick
=========  ==========================================================  ==========  =======
sandbox    simulator capacity, webhooks off / on                       10 s each   3 s
send       engine vs raw ceiling vs naive asyncpg vs naive httpx       50k x 3     10k x 1
cpu1000    CPU per message at a profile rate of 1,000/s                25 s        8 s
rate       achieved rate and 1-second peak at 80 and 1,000 msgs/s      60 s each   12 s
scale      1M-row import, materialize, sends, RSS, query times         1M / 200k   100k/20k
webhooks   receiver ack latency at 1k, 5k, max events/s; correlator    10 s each   3 s
=========  ==========================================================  ==========  =======

``--only a,b`` runs just those sections and merges them into the existing results.json
(the other sections keep their earlier figures and dates). Postgres: ``DATABASE_URL`` when
set, else the embedded server (``benchmarks.harness.admin_dsn``). Exit code 1 when a
section's child failed (its error is recorded), else 0; missed targets are listed in
RESULTS.md's "Targets" table and on stderr.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from benchmarks import paced_bench, sandbox_bench, scale_bench, send_bench, webhook_bench
from benchmarks.harness import ROOT, machine_info

RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
RESULTS_JSON = ROOT / "benchmarks" / "results.json"
SOAK_JSON = ROOT / "benchmarks" / "soak.json"


@dataclass(frozen=True, slots=True)
class Section:
    module: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    render: Callable[[dict[str, Any]], str]


SECTIONS: dict[str, Section] = {
    "sandbox": Section(
        "benchmarks.sandbox_bench", ("--seconds", "10"), ("--seconds", "3"), sandbox_bench.render
    ),
    "send": Section(
        "benchmarks.send_bench",
        ("--n", "50000", "--httpx-n", "5000", "--runs", "3"),
        ("--n", "10000", "--httpx-n", "2000", "--runs", "1"),
        send_bench.render,
    ),
    "cpu1000": Section(
        "benchmarks.paced_bench",
        ("cpu", "--seconds", "25"),
        ("cpu", "--seconds", "8"),
        paced_bench.render_cpu,
    ),
    "rate": Section(
        "benchmarks.paced_bench",
        ("rates", "--seconds", "60"),
        ("rates", "--seconds", "12"),
        paced_bench.render_rates,
    ),
    "scale": Section(
        "benchmarks.scale_bench",
        ("--recipients", "1000000", "--send", "200000", "--query-calls", "50"),
        ("--recipients", "100000", "--send", "20000", "--query-calls", "10"),
        scale_bench.render,
    ),
    "webhooks": Section(
        "benchmarks.webhook_bench",
        ("--seconds", "10", "--max-events", "150000"),
        ("--seconds", "3", "--max-events", "30000"),
        lambda r: webhook_bench.render(r["runs"]),
    ),
}


def run_section(name: str, quick: bool) -> dict[str, Any]:
    """Run one section's child; its JSON result plus wall time, or the error."""
    section = SECTIONS[name]
    argv = [sys.executable, "-m", section.module, *(section.quick if quick else section.full)]
    argv.append("--json")
    print(f"[bench] {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, check=False)
    wall = round(time.perf_counter() - start, 1)
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    entry: dict[str, Any] = {"argv": argv[1:], "seconds": wall, "quick": quick}
    if proc.returncode != 0 or not lines:
        entry["error"] = f"exit code {proc.returncode}"
    else:
        entry["result"] = orjson.loads(lines[-1])
    entry["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"[bench] {name}: done in {wall} s", file=sys.stderr, flush=True)
    return entry


def checks(sections: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, passed) for every target whose section has a result."""
    out: list[tuple[str, str, str, bool | None]] = []

    def res(name: str) -> dict[str, Any] | None:
        entry = sections.get(name)
        return entry.get("result") if entry else None

    if (r := res("send")) is not None:
        ratio = r["engine_over"]["raw"]["steady_rate"]
        out.append(
            (
                "Send path: engine ÷ raw ceiling (steady msgs/s)",
                f"{ratio:.2f}" if ratio else "n/a",
                "≥ 0.60",
                ratio is not None and ratio >= 0.6,
            )
        )
        for other, label in (("naive", "naive asyncpg loop"), ("naive_httpx", "naive httpx loop")):
            ratio = r["engine_over"][other]["steady_rate"]
            out.append(
                (
                    f"Send path: engine ÷ {label} (steady msgs/s)",
                    f"{ratio:.2f}" if ratio else "n/a",
                    "> 1",
                    ratio is not None and ratio > 1,
                )
            )
    if (r := res("cpu1000")) is not None:
        steady = r["run"]["steady"] or {}
        cpu = steady.get("cpu_us_per_msg")
        send = res("send")
        unpaced = ((send or {}).get("contenders", {}).get("engine", {}).get("steady") or {}).get(
            "cpu_us_per_msg"
        )
        ratio = f" ({cpu / unpaced:.2f} × unpaced)" if cpu and unpaced else ""
        out.append(
            (
                "CPU per message at 1,000 msgs/s",
                f"{cpu:,.0f} µs{ratio}, {steady.get('cpu_cores', 0):.2f} cores",
                "no spinning (record)",
                None,
            )
        )
    if (r := res("rate")) is not None:
        for run in r["runs"]:
            out.append(
                (
                    f"Rate {run['rate_per_s']:,}/s: achieved ÷ rate",
                    f"{run['achieved_over_rate']:.4f}",
                    "0.98–1.02",
                    run["rate_ok"],
                )
            )
            out.append(
                (
                    f"Rate {run['rate_per_s']:,}/s: peak 1 s ÷ rate",
                    f"{run['peak_over_rate']:.3f}",
                    "≤ 1.05",
                    run["peak_ok"],
                )
            )
    if (r := res("scale")) is not None:
        imp, job = r["import"], r["job"]
        out.append(
            (
                f"Import {r['recipients']:,} rows: seconds, peak RSS",
                f"{imp['seconds']} s, {imp['peak_rss_mb']} MB",
                "measured",
                imp["code"] == 0,
            )
        )
        out.append(
            (
                f"Job peak RSS, {r['recipients']:,}-row outbox",
                f"{job['peak_rss_mb']} MB",
                f"< {scale_bench.RSS_TARGET_MB} MB",
                job["rss_ok"],
            )
        )
    if (r := res("webhooks")) is not None:
        for phase in r["runs"][0]["phases"]:
            if phase["phase"].startswith("5,000"):
                p99 = phase["ack_ms"]["p99"]
                out.append(("Webhook ack p99 at 5,000 events/s", f"{p99} ms", "< 50 ms", p99 < 50))
    if (r := res("sandbox")) is not None:
        a, b = r["phases"]
        out.append(
            (
                "Sandbox accepted/s, webhooks off",
                f"{a['accepted_per_s']:,}",
                "≥ 8,000",
                a["accepted_per_s"] >= 8000,
            )
        )
        out.append(
            (
                "Sandbox msgs/s with 3 webhooks each",
                f"{b['messages_per_s_with_webhooks']:,}",
                "≥ 3,000",
                b["messages_per_s_with_webhooks"] >= 3000,
            )
        )
    return out


def render(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`python -m benchmarks.run`); do not edit by hand. Raw "
        "figures: `benchmarks/results.json`. Every comparison is a ratio of figures measured "
        "in the same run on the same machine.",
        "",
        f"- Machine: {m['cores']} vCPU {m['cpu']}, {m['platform']}, Python {m['python']}; "
        f"Postgres via {m['database']} on the same machine (it shares both cores).",
        f"- Run: {doc['date']}{' (quick)' if doc.get('quick') else ''}; sections and their "
        "dates: "
        + ", ".join(
            f"{name} {entry['date']} ({entry['seconds']:.0f} s"
            f"{', quick' if entry.get('quick') else ''})"
            for name, entry in doc["sections"].items()
        )
        + ".",
        "- Processes: the sandbox always runs in its own process pinned to CPU 1; the engine "
        "and the contenders are separate processes measured with `wait4` (total CPU, peak "
        "RSS) and sampled with psutil (steady-state windows).",
        "",
        "## Targets",
        "",
        "| What | Measured | Target | Met |",
        "|---|---|---|---|",
    ]
    for what, measured, target, ok in checks(doc["sections"]):
        mark = "—" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {what} | {measured} | {target} | {mark} |")
    for name in SECTIONS:
        entry = doc["sections"].get(name)
        if entry is None:
            continue
        lines.append("")
        if "result" in entry:
            lines.append(SECTIONS[name].render(entry["result"]).rstrip())
        else:
            lines.append(f"## {name}\n\nNot measured: {entry['error']}.")
    if SOAK_JSON.exists():
        from benchmarks import soak

        lines += ["", soak.render(orjson.loads(SOAK_JSON.read_bytes())).rstrip()]
    return "\n".join(lines) + "\n"


def rewrite_markdown() -> None:
    """Re-render RESULTS.md from results.json and soak.json (after ``make soak``)."""
    doc: dict[str, Any] = {"sections": {}, "machine": machine_info()}
    if RESULTS_JSON.exists():
        doc = orjson.loads(RESULTS_JSON.read_bytes())
    doc.setdefault("date", doc["machine"]["date"])
    RESULTS_MD.write_text(render(doc))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke version")
    parser.add_argument(
        "--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}"
    )
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    doc: dict[str, Any] = {"sections": {}}
    if args.only and RESULTS_JSON.exists():
        doc = orjson.loads(RESULTS_JSON.read_bytes())
    doc["machine"] = machine_info()
    doc["date"] = doc["machine"]["date"]
    doc["quick"] = args.quick
    failed = False
    for name in only:
        entry = run_section(name, args.quick)
        failed |= "error" in entry
        doc["sections"][name] = entry
        # written after every section, so an interrupted run keeps what it measured
        ordered = {k: doc["sections"][k] for k in SECTIONS if k in doc["sections"]}
        doc["sections"] = ordered
        RESULTS_JSON.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        RESULTS_MD.write_text(render(doc))
    missed = [c for c in checks(doc["sections"]) if c[3] is False]
    print(RESULTS_MD.read_text())
    for what, measured, target, _ in missed:
        print(f"[bench] target missed: {what}: {measured} (target {target})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
