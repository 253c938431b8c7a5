#!/usr/bin/env python3
"""Time ``.ci/run`` (what CI runs: set-up, ruff, mypy, pytest) on fresh clones of two commits.

Issue 19 asks for ``make test`` on a clean clone in at most half the time of the commit the issue
was filed at, "measured both in one run". This script does exactly that: it clones the repository
twice into a scratch directory (``git clone --no-hardlinks``, then ``git checkout REF``), runs
``CI=true bash .ci/run`` in each clone one after the other (never together: two cores), and
prints the wall time, the CPU time (user + system of every child) and pytest's summary line of
each, the ratio and the verdict.

    .venv/bin/python bench/suite_time.py                 # base 6c56c1d, head HEAD
    .venv/bin/python bench/suite_time.py --base REF --head REF --order head-first

Results are also written to ``build/bench/suite-time.json``. The run needs the network that
``make test`` needs for its own set-up (the public Python index), nothing else. Standard library
only, so it also runs from a bare ``python3``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The commit issue 19 was filed at (its "today's time").
DEFAULT_BASE = "6c56c1d"
SUMMARY = re.compile(r"=+ (.*\b(?:passed|failed|error)\b.*) in ([0-9.]+)s")


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _clone(ref: str, dest: Path) -> str:
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest)], check=True)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=dest, check=True)
    return commit


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> float:
    return os.getloadavg()[0]


def run_ci(ref: str, scratch: Path, log_dir: Path) -> dict[str, object]:
    """Clone ``ref`` and run its ``.ci/run`` once; the figures of that run."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", ref)
    clone = scratch / name
    commit = _clone(ref, clone)
    log = log_dir / f"suite-time-{name}.log"
    env = {**os.environ, "CI": "true"}
    load_before = _load()
    cpu_before = _children_cpu()
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run(
            ["bash", ".ci/run"],
            check=False,
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
    wall = time.monotonic() - start
    cpu = _children_cpu() - cpu_before
    text = log.read_text(encoding="utf-8", errors="replace")
    found = SUMMARY.findall(text)
    summary: str = found[-1][0] if found else "no pytest summary"
    pytest_s = float(found[-1][1]) if found else None
    shutil.rmtree(clone, ignore_errors=True)
    return {
        "ref": ref,
        "commit": commit,
        "exit_code": code,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "pytest_s": pytest_s,
        "pytest_summary": summary,
        "load_before": round(load_before, 2),
        "load_after": round(_load(), 2),
        "log": str(log),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help="the old commit (default: %(default)s)"
    )
    parser.add_argument("--head", default="HEAD", help="the new commit (default: %(default)s)")
    parser.add_argument(
        "--order",
        choices=("base-first", "head-first"),
        default="base-first",
        help="which clone runs first (default: %(default)s)",
    )
    parser.add_argument("--limit", type=float, default=0.5, help="head/base target (0.5: half)")
    args = parser.parse_args(argv)
    out_dir = REPO / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    order = [args.base, args.head] if args.order == "base-first" else [args.head, args.base]
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="suite-time-") as tmp:
        for ref in order:
            print(f"running .ci/run on a fresh clone of {ref} ...", flush=True)
            results[ref] = run_ci(ref, Path(tmp), out_dir)
            r = results[ref]
            print(
                f"  {r['commit']!s:.10} exit {r['exit_code']}: {r['wall_s']} s wall, "
                f"{r['cpu_s']} CPU-s, pytest {r['pytest_s']} s ({r['pytest_summary']}); "
                f"load {r['load_before']} -> {r['load_after']}",
                flush=True,
            )
    base, head = results[args.base], results[args.head]
    ratio = float(head["wall_s"]) / float(base["wall_s"])  # type: ignore[arg-type]
    ok = head["exit_code"] == 0 and base["exit_code"] == 0 and ratio <= args.limit
    print()
    print("| commit | .ci/run wall | CPU (user+sys) | pytest | summary |")
    print("|---|---|---|---|---|")
    for r in (base, head):
        print(
            f"| {r['commit']!s:.7} | {r['wall_s']} s | {r['cpu_s']} s | {r['pytest_s']} s | "
            f"{r['pytest_summary']} |"
        )
    print()
    print(f"head/base wall: {ratio:.2f} (target <= {args.limit:.2f}): {'holds' if ok else 'NO'}")
    record = {
        "base": base,
        "head": head,
        "ratio": round(ratio, 3),
        "target": args.limit,
        "holds": ok,
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / "suite-time.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
