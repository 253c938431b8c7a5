"""Benchmark reconciler against hand-written pip / pip-tools / uv loops (issue 5).

Run with the dev venv's interpreter (``make bench``, or ``.venv/bin/python bench/run.py``)::

    python bench/run.py            # full run, ~13 minutes on 2 quiet cores
    python bench/run.py --quick    # smoke run: 3 runs, no N=500, heavy scenarios once

Everything is offline: a synthetic wheelhouse is generated under ``build/bench/wheels`` and
reused across runs, as are the projects (locks, venvs) under ``build/bench/projects``. Prints a
table and writes every raw timing to ``build/bench/results.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ab
import projects
import report
import scenarios as sc
import wheelhouse as wh
from measure import BenchError, Sample

REPO = Path(__file__).resolve().parent.parent
N_WHEELHOUSE_PLUGINS = 500
#: The realistic row's parallel hand loops: this many plugins at a time.
REAL_PARALLEL = (2, 4)
T = TypeVar("T")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 runs, skip N=500, heavy scenarios once (~2 min)"
    )
    parser.add_argument("--runs", type=int, default=None, help="measured runs per scenario")
    parser.add_argument(
        "--slow-runs",
        type=int,
        default=None,
        help="measured runs of the pip cold apply (default 2; 1 with --quick); --jobs 1: half",
    )
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=None,
        help="measured runs of the baselines (default 3; 2 with --quick)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="delete cached projects, venvs and caches first"
    )
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="only the `plan --verify` rows (20 venvs, and 500 unless --quick) and their baselines",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results file (default build/bench/results.json)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="results file of an earlier run whose base/rec ratios to show the drift from "
        "(informational; default: --out's previous content)",
    )
    parser.add_argument(
        "--ab-ref",
        default=ab.DEFAULT_REF,
        metavar="REF",
        help="the earlier reconciler every reconciler row is timed against in the same run "
        f'(issue 20\'s "nothing else gets slower"; default {ab.DEFAULT_REF}, the commit '
        "issue 20 was filed at)",
    )
    parser.add_argument(
        "--no-ab", action="store_true", help="skip that A/B (no old reconciler is built or run)"
    )
    parser.add_argument(
        "--dev-venv",
        action="store_true",
        help="time the dev venv's editable reconciler instead of a regular install of the "
        "working tree (its import hook adds to every start; the old side has none)",
    )
    return parser.parse_args(argv)


class Clock:
    """Progress lines prefixed with the time since the start."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start

    def log(self, text: str) -> None:
        """Print one progress line."""
        print(f"[{self.elapsed():6.1f}s] {text}", flush=True)


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state() -> dict[str, object]:
    """Commit and dirtiness of the checkout being measured."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def machine_info(bench: sc.Bench) -> dict[str, object]:
    """What the numbers were measured on."""
    mem = ""
    with contextlib.suppress(OSError, IndexError):
        first = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()[0]
        mem = first.split(":")[1].strip()

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    editable = False
    with contextlib.suppress(metadata.PackageNotFoundError, ValueError, TypeError):
        direct = metadata.distribution("venv-reconciler").read_text("direct_url.json") or "{}"
        editable = bool(json.loads(direct).get("dir_info", {}).get("editable"))
    python3 = shutil.which("python3", path=bench.env.get("PATH"))
    is_script = False
    if python3:
        with Path(python3).open("rb") as handle:
            is_script = handle.read(2) == b"#!"
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "memory": mem,
        "kernel": platform.release(),
        "python_version": platform.python_version(),
        "base_interpreter": bench.python,
        "uv_version": sc.tool_version([bench.uv, "--version"], bench.env),
        "pip_version": version("pip"),
        "pip_tools_version": version("pip-tools"),
        "reconciler_version": version("venv-reconciler"),
        "reconciler_editable_install": editable,
        "git": git_state(),
        "python3_on_path": {"path": python3, "is_launcher_script": is_script},
    }


def guarded(clock: Clock, bench: sc.Bench, what: str, fn: Callable[[], T]) -> T | None:
    """Run one scenario; record (not raise) an unexpected failure."""
    try:
        return fn()
    except (BenchError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        bench.notes.append(f"{what}: failed: {first}")
        clock.log(f"  ! {what} failed: {first}")
        return None


def wheelhouse_digest(house: wh.Wheelhouse) -> str:
    """One digest of every wheel in the wheelhouse."""
    blob = json.dumps(sorted(house.hashes.items())).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def copy_locks(source: Path, dest: Path) -> None:
    """Give ``dest`` the locks of ``source`` (same plugins, same settings)."""
    (dest / "lock").mkdir(exist_ok=True)
    for path in sorted((source / "lock").glob("*.txt")):
        target = dest / "lock" / path.name
        if not target.is_file() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)


def _diff_row(
    scenario: str, rec: Sample | None, base: Sample | None, label: str, limit: float
) -> report.Row:
    """A row whose target is "within ``limit`` seconds of the baseline"."""
    return report.timing_row(
        scenario,
        rec,
        base,
        label,
        f"<= {label} + {limit * 1000:.0f} ms",
        lambda r, q: q is not None and r - r * q <= limit,  # r - base (base = r * q)
    )


def _default_jobs() -> int:
    """The job count ``apply`` uses when ``--jobs`` is not given."""
    sys.path.insert(0, str(REPO))
    from reconciler.support.jobs import default_apply_jobs  # noqa: PLC0415

    return default_apply_jobs()


def _upgrade_row(rec: Sample | None, plan: Sample | None, single: Sample | None) -> report.Row:
    """The one-pin upgrade against start-up + a no-op plan + one ``uv pip install`` + 40 ms."""
    if rec is None or rec.median is None or plan is None or plan.median is None:
        return report.Row("one-pin upgrade, uv (20 venvs)", "n/a", "-", "-", "-", "n/a")
    if single is None or single.median is None:
        return report.Row("one-pin upgrade, uv (20 venvs)", "n/a", "-", "-", "-", "n/a")
    budget = plan.median + single.median
    over = rec.median - budget
    return report.Row(
        "one-pin upgrade, uv (20 venvs)",
        f"{rec.median:.3f} s",
        f"{budget:.3f} s",
        f"{over * 1000:+.0f} ms",
        "<= plan (start-up incl.) + single uv install + 40 ms",
        "yes" if over <= 0.04 else "NO",
    )


def _floor_row(s: dict[str, Sample]) -> report.Row:
    """Whether the realistic row's 1.3x target can be met on this machine: the least a cold
    apply can take (its own start-up and plan, then the fastest parallel hand uv run of the
    same venvs) against the budget (the sequential hand loop / 1.3)."""
    name = "realistic floor: cold plan + fastest parallel hand uv"

    def median(key: str) -> float | None:
        sample = s.get(key)
        return None if sample is None or sample.error is not None else sample.median

    plan, loop = median("plan.cold.real"), median("baseline.cold.real.uv-loop")
    keys = [f"baseline.cold.real.uv-par{n}" for n in REAL_PARALLEL]
    parallel = [m for m in map(median, [*keys, "baseline.cold.real.uv-par4-copy"]) if m]
    if plan is None or loop is None or not parallel:
        return report.Row(name, "n/a", "-", "-", "-", "n/a")
    floor, budget = plan + min(parallel), loop / 1.3
    return report.Row(
        name,
        f"{floor * 1000:.0f} ms",
        f"hand uv loop / 1.3: {budget * 1000:.0f} ms",
        f"{loop / floor:.2f}x",
        "floor <= budget (1.3x reachable)",
        "yes" if floor <= budget else "NO",
        reconciler_value=floor,
        baseline_value=loop,
        ratio_value=loop / floor,
    )


def build_rows(s: dict[str, Sample], bench: sc.Bench, lock_jobs: bool) -> list[report.Row]:
    """The table (targets from issues 5 and 11; issue 11's where both set one)."""
    g = s.get
    row = report.timing_row
    plan20 = g("plan.noop.n20")
    rows = [
        _diff_row("no-op plan, 20 venvs", plan20, g("startup.python"), "python -c pass", 0.06),
        row(
            "import time of the plan path",
            g("startup.import-cli"),
            g("startup.python"),
            "python -c pass",
        ),
        row(
            "no-op plan, 20 venvs",
            plan20,
            g("baseline.noop.n20.pip-sync"),
            "pip-sync --dry-run x20",
        ),
        row(
            "no-op plan, 20 venvs",
            plan20,
            g("baseline.noop.n20.pip-freeze"),
            "pip --python V freeze x20",
        ),
        row(
            "no-op plan, 20 venvs",
            plan20,
            g("baseline.noop.n20.uv-sync"),
            "uv pip sync x20",
            ">= 3x faster",
            lambda _r, q: q is not None and q >= 3,
        ),
    ]
    if "plan.noop.n20.python3-shim" in s:
        rows.append(
            _diff_row(
                'no-op plan, 20 venvs, python = "python3" (shim)',
                g("plan.noop.n20.python3-shim"),
                plan20,
                "explicit path",
                0.05,
            )
        )
    rows += [
        row(
            "no-op plan, 50 venvs",
            g("plan.noop.n50"),
            plan20,
            "20 venvs",
            "<= 1.3x 20 venvs",
            lambda _r, q: q is not None and q >= 1 / 1.3,
        ),
        row(
            "no-op plan, 500 venvs",
            g("plan.noop.n500"),
            target="<= 0.6 s",
            check=lambda r, _q: r <= 0.6,
        ),
    ]
    for n in (20, 50, 500):
        if f"plan.noop.n{n}" in s:
            rows.append(report.rss_row(f"plan peak RSS, {n} venvs", g(f"plan.noop.n{n}"), 80))
    default_jobs = _default_jobs()
    rows += [
        row(
            "cold apply 20, pip, --jobs 1",
            g("apply.cold.n20.pip.jobs1"),
            g("baseline.cold.n20.venv-pip-loop"),
            "venv+pip loop",
        ),
        row(
            f"cold apply 20, pip, default (--jobs {default_jobs})",
            g("apply.cold.n20.pip.default"),
            g("baseline.cold.n20.venv-pip-loop"),
            "venv+pip loop",
            ">= 3x faster",
            lambda _r, q: q is not None and q >= 3,
        ),
        row(
            "cold apply 20, uv, --jobs 1",
            g("apply.cold.n20.uv.jobs1"),
            g("baseline.cold.n20.uv-loop"),
            "uv venv+sync loop",
            ">= 0.9x",
            lambda _r, q: q is not None and q >= 0.9,
        ),
        row(
            f"cold apply 20, uv, default (--jobs {default_jobs})",
            g("apply.cold.n20.uv.default"),
            g("baseline.cold.n20.uv-loop"),
            "uv venv+sync loop",
            ">= 1.6x faster",
            lambda _r, q: q is not None and q >= 1.6,
        ),
        *(
            row(
                f"cold apply 20, uv, --jobs {n} (choosing the default)",
                g(f"apply.cold.n20.uv.jobs{n}"),
                g("baseline.cold.n20.uv-loop"),
                "uv venv+sync loop",
            )
            for n in (2, 3, 4)
            if f"apply.cold.n20.uv.jobs{n}" in s
        ),
        row(
            f"realistic: cold apply, uv, default (--jobs {default_jobs})",
            g("apply.cold.real.uv.default"),
            g("baseline.cold.real.uv-loop"),
            "hand uv venv+sync loop",
            ">= 1.3x faster",
            lambda _r, q: q is not None and q >= 1.3,
        ),
        row(
            f"realistic: cold apply, uv, default (--jobs {default_jobs})",
            g("apply.cold.real.uv.default"),
            g("baseline.cold.real.meltano-install"),
            "meltano install",
            ">= 1.5x faster",
            lambda _r, q: q is not None and q >= 1.5,
        ),
        row(
            "realistic: cold apply, uv, --jobs 1",
            g("apply.cold.real.uv.jobs1"),
            g("baseline.cold.real.uv-loop"),
            "hand uv venv+sync loop",
        ),
        *(
            row(
                f"realistic: parallel hand uv, {n} at a time",
                g(f"baseline.cold.real.uv-par{n}"),
                g("baseline.cold.real.uv-loop"),
                "hand uv venv+sync loop",
            )
            for n in REAL_PARALLEL
        ),
        row(
            "realistic: parallel hand uv, 4 at a time, venvs copied",
            g("baseline.cold.real.uv-par4-copy"),
            g("baseline.cold.real.uv-loop"),
            "hand uv venv+sync loop",
        ),
        row("realistic: cold plan (start-up + plan)", g("plan.cold.real")),
        _floor_row(s),
        row(
            f"cold apply 20, uv, default (--jobs {default_jobs})",
            g("apply.cold.n20.uv.default"),
            g("baseline.cold.n20.uv-loop-new-paths"),
            "uv loop, new venv paths",
        ),
    ]
    meltano_cold, meltano_noop = (
        g("baseline.cold.n20.meltano-install"),
        g("baseline.noop.n20.meltano-install"),
    )
    if meltano_cold is not None or meltano_noop is not None:
        rows += [
            row(
                f"cold apply 20, uv, default (--jobs {default_jobs})",
                g("apply.cold.n20.uv.default"),
                meltano_cold,
                "meltano install",
                ">= 1.5x faster",
                lambda _r, q: q is not None and q >= 1.5,
            ),
            row(
                "no-op apply, 20 venvs",
                g("apply.noop.n20"),
                meltano_noop,
                "meltano install re-run",
                ">= 10x faster",
                lambda _r, q: q is not None and q >= 10,
            ),
        ]
    else:
        rows += [
            report.Row(
                f"cold apply 20 vs meltano install ({sc.MELTANO_BIN} missing)",
                "n/a",
                "-",
                "-",
                ">= 1.5x faster",
                "n/a",
            ),
            report.Row(
                "no-op apply 20 vs meltano install re-run (missing)",
                "n/a",
                "-",
                "-",
                ">= 10x faster",
                "n/a",
            ),
        ]
    rows += [
        row(
            "one-pin upgrade, pip (20 venvs)",
            g("apply.upgrade.pip"),
            g("baseline.single-install.pip"),
            "single pip install",
            "<= 1.5x single",
            lambda _r, q: q is not None and q >= 1 / 1.5,
        ),
        row(
            "one-pin upgrade, uv (20 venvs)",
            g("apply.upgrade.uv"),
            g("baseline.single-install.uv"),
            "single uv pip install",
        ),
        _upgrade_row(g("apply.upgrade.uv"), plan20, g("baseline.single-install.uv")),
        row(
            "lock 10 plugins, uv resolver",
            g("lock.n10.resolver-uv"),
            g("baseline.lock.n10.uv-compile-loop"),
            "uv pip compile loop",
            "<= 1.2x the loop",
            lambda _r, q: q is not None and q >= 1 / 1.2,
        ),
        row(
            "lock 10 plugins, uv resolver",
            g("lock.n10.resolver-uv"),
            g("lock.n10.default"),
            "pip-tools resolver",
            ">= 10x faster",
            lambda _r, q: q is not None and q >= 10,
        ),
    ]
    if lock_jobs:
        rows.append(
            row(
                "lock 10 plugins, pip-tools, default --jobs",
                g("lock.n10.default"),
                g("lock.n10.jobs1"),
                "lock --jobs 1",
                ">= 1.7x faster",
                lambda _r, q: q is not None and q >= 1.7,
            )
        )
    rows += verify_rows(s)
    # rows not measured in this mode (e.g. N=500 with --quick) are left out; a missing Meltano
    # is reported as such
    return [r for r in rows if r.reconciler != "n/a" or "missing" in r.scenario]


#: `plan --verify` may cost at most this multiple of reading and hashing the same files once.
VERIFY_MULTIPLE = 3


def verify_rows(s: dict[str, Sample]) -> list[report.Row]:
    """The `plan --verify` rows (issue 18): its cost against `plan`, `pip check` per venv and
    reading the files once."""
    rows = []
    for n in (20, 500):
        verify = s.get(f"plan.verify.n{n}")
        if verify is None:
            continue
        rows += [
            report.timing_row(
                f"plan --verify, {n} venvs", verify, s.get(f"plan.noop.n{n}"), "plan, no --verify"
            ),
            report.timing_row(
                f"plan --verify, {n} venvs",
                verify,
                s.get(f"baseline.verify.n{n}.pip-check"),
                f"pip check x{n}",
            ),
            report.timing_row(
                f"plan --verify, {n} venvs",
                verify,
                s.get(f"baseline.verify.n{n}.cat"),
                "cat of the same files",
            ),
            report.timing_row(
                f"plan --verify, {n} venvs",
                verify,
                s.get(f"baseline.verify.n{n}.sha256-loop"),
                "sha256 loop, same files",
                f"<= {VERIFY_MULTIPLE}x",
                lambda _r, q: q is not None and q >= 1 / VERIFY_MULTIPLE,
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0912, PLR0915 - one linear script
    """Build the fixtures, run every scenario, print the table, write results.json."""
    args = parse_args(argv)
    clock = Clock()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    root = REPO / "build" / "bench"
    out = args.out or root / "results.json"
    reconciler_bin = sc.DEV_BIN / "reconciler"
    if not reconciler_bin.exists():
        print(
            f"error: {reconciler_bin} not found: run with the dev venv (make bench)",
            file=sys.stderr,
        )
        return 1
    if args.fresh:
        for sub in ("projects", "baseline", "cache"):
            shutil.rmtree(root / sub, ignore_errors=True)
    python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    runs = args.runs or (3 if args.quick else 5)
    slow_runs = args.slow_runs or (1 if args.quick else 2)
    baseline_runs = args.baseline_runs or (2 if args.quick else 3)

    clock.log(f"building the wheelhouse in {root / 'wheels'} ...")
    house = wh.ensure(root / "wheels", N_WHEELHOUSE_PLUGINS)
    clock.log(
        f"  {'built' if house.built else 'reused'} {len(house.hashes)} wheels, "
        f"{house.total_bytes() / 1e6:.1f} MB ({wh.N_LIBRARIES} libraries, "
        f"{N_WHEELHOUSE_PLUGINS} plugins, {wh.UPGRADE_LIBRARY} in 2 versions)"
    )
    bench = sc.Bench(
        root=root,
        house=house,
        python=python,
        major_minor=major_minor,
        quick=args.quick,
        runs=runs,
        slow_runs=slow_runs,
        baseline_runs=baseline_runs,
        log=clock.log,
    )
    bench.env = sc.bench_env(root / "cache")
    bench.info["wheelhouse_digest"] = wheelhouse_digest(house)
    machine = machine_info(bench)
    clock.log(
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), python "
        f"{machine['python_version']}, {machine['uv_version']}, pip {machine['pip_version']}"
    )
    shim = machine["python3_on_path"]
    assert isinstance(shim, dict)
    clock.log(f'interpreter: every project sets python = "{python}" (an explicit real path).')
    if shim.get("is_launcher_script"):
        clock.log(
            f"  note: `python3` on PATH is {shim['path']}, a launcher script (pyenv shim?); "
            'with python = "python3" every plan runs it to probe the interpreter (~90 ms with '
            "pyenv) - see the python3 (shim) row."
        )
    ns = (20, 50) if args.quick else (20, 50, 500)
    mode = "quick" if args.quick else "full"
    clock.log(
        f"mode: {mode}; median of {runs} runs after 1 warm-up"
        + ("" if args.quick else f" (no-op plans: {2 * runs})")
        + (" (cold applies: no warm-up)" if args.quick else "")
        + f"; pip cold applies: {slow_runs} run(s)"
        + ("" if args.quick else " after 1 warm-up (--jobs 1: half, no warm-up)")
        + f"; baselines: {baseline_runs} runs after 1 warm-up (2 once a baseline has used "
        "25 s), the venv+pip loop 1 run"
        + (", loops over 4 plugins scaled to 20" if args.quick else "")
        + ("" if args.quick else ", the venv+pip loop over 5, pip freeze over 10, scaled to 20")
    )
    load1 = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load1 > 0.5 * cpus:
        warning = (
            f"the machine is busy (1-minute load average {load1:.1f} on {cpus} CPUs): "
            "timings will be slower and noisier than on an idle machine"
        )
        bench.notes.append(warning)
        clock.log(f"warning: {warning}")

    if args.verify_only:
        return verify_only(bench, clock, ns, out)

    if args.dev_venv:
        bench.info["new_reconciler"] = f"the dev venv's editable install ({sc.DEV_BIN})"
    else:
        clock.log("the new reconciler: a regular install of the working tree ...")
        try:
            bench.new = ab.build(
                REPO,
                None,
                root,
                python=python,
                dev_bin=sc.DEV_BIN,
                bench_env=bench.env,
                log=clock.log,
            )
            bench.info["new_reconciler"] = (
                f"a regular install of the working tree ({bench.new.python.parent.parent})"
            )
        except (BenchError, OSError) as exc:
            lines = str(exc).strip().splitlines()
            note = (
                f"the working tree could not be installed ({lines[-1] if lines else exc}): "
                "timing the dev venv's editable install, whose import hook the old side lacks"
            )
            bench.notes.append(note)
            bench.info["new_reconciler"] = f"the dev venv's editable install ({sc.DEV_BIN})"
            clock.log(f"  ! {note}")
    if args.no_ab:
        bench.ab_off = "the A/B is off (--no-ab)"
    else:
        clock.log(f"the old reconciler of the A/B ({args.ab_ref}) ...")
        try:
            bench.old = ab.build(
                REPO,
                args.ab_ref,
                root,
                python=python,
                dev_bin=sc.DEV_BIN,
                bench_env=bench.env,
                log=clock.log,
            )
        except (BenchError, OSError) as exc:
            lines = str(exc).strip().splitlines()
            bench.ab_off = f"reconciler {args.ab_ref} not built: {lines[-1] if lines else exc}"
            clock.log(f"  ! {bench.ab_off}; the A/B is skipped")
            bench.notes.append(bench.ab_off)

    # ---- setup ------------------------------------------------------------------------
    try:
        bench.run([reconciler_bin, "--version"])
        clock.log("setting up projects (locks, venvs) ...")
        n20 = sc.setup_project(bench, "n20", 20, lock_with_reconciler=True)
        n50 = sc.setup_project(bench, "n50", 50, lock_with_reconciler=True)
        same, different = projects.compare_with_generator(
            n50, 50, house, python, major_minor, house.path
        )
        bench.info["direct_lock_generator_matches_pip_compile"] = {
            "identical": same,
            "different": different,
        }
        clock.log(f"  direct lock generator vs pip-compile (n50): {same}/50 byte-identical")
        n500 = (
            sc.setup_project(bench, "n500", 500, lock_with_reconciler=False) if 500 in ns else None
        )
        cold20 = sc.setup_project(bench, "cold20", 20, lock_with_reconciler=False)
        copy_locks(n20, cold20)
        upgrade20 = sc.setup_project(bench, "upgrade20", 20, lock_with_reconciler=False)
        copy_locks(n20, upgrade20)
        lock10 = sc.setup_project(bench, "lock10", 10, lock_with_reconciler=False)
        for project in (n20, n50, n500, upgrade20):
            if project is not None:
                bench.ensure_applied(project)
        lock_help = bench.lock_help()
    except BenchError as exc:
        print(f"error: setup failed: {exc}", file=sys.stderr)
        return 1
    lock_jobs = "--jobs" in lock_help
    if not lock_jobs:
        bench.notes.append("lock --jobs: not implemented")
    bench.info["lock_jobs_option"] = lock_jobs
    setup_seconds = clock.elapsed()

    # ---- plan ---------------------------------------------------------------------------
    clock.log("no-op plan ...")
    sc.startup_costs(bench)
    sc.plan_noop(bench, n20, 20)
    sc.plan_noop(bench, n50, 50)
    if n500 is not None:
        sc.plan_noop(bench, n500, 500)
    guarded(clock, bench, "plan with python3 shim", lambda: sc.plan_with_shim(bench, n20))
    analysis: dict[str, object] = {}
    analysis["importtime_plan_n20"] = guarded(
        clock, bench, "importtime", lambda: sc.import_profile(bench, n20)
    )
    for n, project in ((20, n20), (500, n500) if n500 is not None else (50, n50)):
        analysis[f"plan_phases_n{n}"] = guarded(
            clock, bench, f"plan phases n{n}", functools.partial(sc.plan_phases, bench, project)
        )
    clock.log("no-op baselines (pip freeze) ...")
    sc.pip_freeze_noop(bench, n20, 20)
    clock.log("plan --verify (installed files against RECORD) ...")
    for n, project in ((20, n20), (500, n500)):
        if project is not None:
            guarded(
                clock,
                bench,
                f"plan --verify n{n}",
                functools.partial(sc.verify_scenarios, bench, project, n),
            )

    # ---- cold apply ----------------------------------------------------------------------
    clock.log("cold apply of 20 venvs ...")
    sc.cold_apply(bench, cold20, "uv", jobs1=False)
    sc.cold_apply(bench, cold20, "uv", jobs1=True)
    for n in (2, 3, 4):  # the default job count is chosen from these (README: Parallelism)
        sc.cold_apply_jobs(bench, cold20, n)
    sc.cold_apply(bench, cold20, "pip", jobs1=False)
    if args.quick:
        bench.notes.append("--quick: pip cold apply with --jobs 1 not measured")
    else:
        sc.cold_apply(bench, cold20, "pip", jobs1=True)
    for n in (1, _default_jobs()):
        analysis[f"stage_profile_uv_jobs{n}"] = guarded(
            clock,
            bench,
            "stage profile",
            functools.partial(sc.stage_profile, bench, cold20, "uv", n),
        )
    clock.log("realistic plugins (MB wheels with many files, an sdist, a git plugin) ...")
    real = guarded(clock, bench, "realistic setup", lambda: sc.realistic_project(bench))
    if real is not None:
        real_project, real_fixtures = real
        sc.realistic_apply(bench, real_project)
        sc.realistic_apply(bench, real_project, jobs=1)
        sc.realistic_uv_loop(bench, real_project, real_fixtures)
        # the floor: the hand loop made parallel, and what a cold apply pays before uv starts
        for at_a_time in REAL_PARALLEL:
            sc.realistic_uv_parallel(bench, real_project, real_fixtures, at_a_time)
        sc.realistic_uv_parallel(bench, real_project, real_fixtures, 4, copy=True)
        sc.realistic_plan(bench, real_project)
        analysis[f"stage_profile_real_uv_jobs{_default_jobs()}"] = guarded(
            clock,
            bench,
            "stage profile (realistic)",
            functools.partial(sc.stage_profile, bench, real_project, "uv", _default_jobs()),
        )
        guarded(
            clock, bench, "meltano (realistic)", lambda: sc.realistic_meltano(bench, real_fixtures)
        )
    clock.log("baselines: uv loop, venv+pip loop, pip-sync, uv pip sync ...")
    sc.uv_loop(bench, 20)
    sc.uv_loop(bench, 20, new_paths=True)
    sc.uv_sync_noop(bench, 20)
    sc.naive_loop(bench, 20)
    sc.pip_sync_noop(bench, 20)

    # ---- one changed pin ----------------------------------------------------------------------
    clock.log("one changed pin ...")
    guarded(clock, bench, "upgrade pip", lambda: sc.upgrade(bench, upgrade20, "pip"))
    guarded(clock, bench, "upgrade uv", lambda: sc.upgrade(bench, upgrade20, "uv"))
    sc.single_install(bench, "pip")
    sc.single_install(bench, "uv")

    # ---- lock ----------------------------------------------------------------------------------
    clock.log("lock of 10 plugins: uv resolver, hand uv loop, pip-tools resolver ...")
    sc.lock_resolver(bench, lock10, "uv")
    sc.uv_compile_loop(bench, 10)
    if lock_jobs:  # with --resolver pip-tools: also the pip-tools resolver's row
        sc.lock_jobs(bench, lock10, jobs1=True)
        sc.lock_jobs(bench, lock10, jobs1=False)

    clock.log("meltano install (cold, no-op re-run) and no-op apply ...")
    sc.apply_noop(bench, n20)
    guarded(clock, bench, "meltano", lambda: sc.meltano_install(bench, 20))

    # ---- report ----------------------------------------------------------------------------------
    ab_rows = ab.verdicts(bench.samples, ab_scenarios(), bench.ab_skipped, bench.ab_absent)
    rows = build_rows(bench.samples, bench, lock_jobs)
    rows.append(ab_target_row(bench, ab_rows))
    print()
    print(report.render(rows))
    print()
    off = bench.ab_off if bench.old is None else None
    print(report.render_ab(ab_rows, _ab_title(bench), ab.overall(ab_rows), off))
    print()
    print(
        f'Every project sets python = "{python}" (an explicit real path, so no launcher script '
        "runs per plan)."
    )
    print_analysis(bench, analysis)
    print_drift(rows, args.compare or out)
    for note in bench.notes:
        print(f"note: {note}")
    errors = {k: s.error for k, s in bench.samples.items() if s.error}
    for key, error in errors.items():
        print(f"error: {key}: {error.splitlines()[0]}")
    results = {
        "format_version": 1,
        "mode": mode,
        "started_at": started_at,
        "duration_s": round(clock.elapsed(), 1),
        "setup_s": round(setup_seconds, 1),
        "machine": machine,
        "setup": {
            "wheelhouse": str(house.path),
            "wheels": len(house.hashes),
            "wheelhouse_bytes": house.total_bytes(),
            "wheelhouse_digest": bench.info["wheelhouse_digest"],
            "interpreter": python,
            "interpreter_is_explicit_path": True,
            "projects": str(root / "projects"),
            **{k: v for k, v in bench.info.items() if k != "wheelhouse_digest"},
        },
        "policy": {
            "runs": runs,
            "slow_runs": slow_runs,
            "baseline_runs": baseline_runs,
            "quick": args.quick,
            "per_sample": "see samples.*.runs_requested, warmup, seconds",
        },
        "load_average": {"start": round(load1, 2), "end": round(os.getloadavg()[0], 2)},
        "samples": {k: s.to_json() for k, s in bench.samples.items()},
        "rows": [r.to_json() for r in rows],
        "ab": {
            "ref": args.ab_ref,
            "commit": bench.old.commit if bench.old else None,
            "off": bench.ab_off if bench.old is None else None,
            "slower_when": f"new > old * {1 + ab.SLOWER_RATIO:.2f} and new > old + "
            f"{ab.SLOWER_ABS * 1000:.0f} ms",
            "overall": ab.overall(ab_rows),
            "rows": [r.to_json() for r in ab_rows],
        },
        "analysis": analysis,
        "notes": bench.notes,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out} ({clock.elapsed():.0f} s in total, setup {setup_seconds:.0f} s)")
    return 0


def ab_scenarios() -> list[tuple[str, str]]:
    """Every reconciler row of the bench, as (sample key, scenario) in table order: what the
    same-run A/B times against the old reconciler."""
    default = _default_jobs()
    return [
        ("startup.import-cli", "import reconciler.cli (start-up + imports)"),
        ("plan.noop.n20", "no-op plan, 20 venvs"),
        ("plan.noop.n20.python3-shim", 'no-op plan, 20 venvs, python = "python3" (shim)'),
        ("plan.noop.n50", "no-op plan, 50 venvs"),
        ("plan.noop.n500", "no-op plan, 500 venvs"),
        ("plan.verify.n20", "plan --verify, 20 venvs"),
        ("plan.verify.n500", "plan --verify, 500 venvs"),
        ("apply.noop.n20", "no-op apply, 20 venvs"),
        ("apply.cold.n20.uv.jobs1", "cold apply 20, uv, --jobs 1"),
        ("apply.cold.n20.uv.default", f"cold apply 20, uv, default jobs (new: {default})"),
        *((f"apply.cold.n20.uv.jobs{n}", f"cold apply 20, uv, --jobs {n}") for n in (2, 3, 4)),
        ("apply.cold.n20.pip.jobs1", "cold apply 20, pip, --jobs 1"),
        ("apply.cold.n20.pip.default", "cold apply 20, pip, default jobs"),
        ("apply.cold.real.uv.default", "realistic: cold apply, uv, default jobs"),
        ("apply.cold.real.uv.jobs1", "realistic: cold apply, uv, --jobs 1"),
        ("plan.cold.real", "realistic: cold plan (start-up + plan)"),
        ("apply.upgrade.uv", "one-pin upgrade, uv (20 venvs)"),
        ("apply.upgrade.pip", "one-pin upgrade, pip (20 venvs)"),
        ("lock.n10.resolver-uv", "lock 10 plugins, uv resolver"),
        ("lock.n10.jobs1", "lock 10 plugins, pip-tools, --jobs 1"),
        ("lock.n10.default", "lock 10 plugins, pip-tools, default jobs"),
    ]


def _ab_title(bench: sc.Bench) -> str:
    old = bench.old
    if old is None:
        return "nothing else gets slower (same-run A/B)"
    new = (
        "the new reconciler (a regular install of the working tree)"
        if bench.new
        else "the new reconciler (the dev venv's EDITABLE install: its import hook counts)"
    )
    return (
        f"nothing else gets slower: {new} vs reconciler {old.label} (installed alike under "
        f"build/bench/ref/), same run, same plugins and pins, runs interleaved; medians; slower "
        f"= new > old x {1 + ab.SLOWER_RATIO:.2f} and new > old + {ab.SLOWER_ABS * 1000:.0f} ms"
    )


def ab_target_row(bench: sc.Bench, rows: list[ab.Verdict]) -> report.Row:
    """The main table's row for issue 20's last target, from the A/B's overall verdict."""
    verdict = ab.overall(rows)
    compared = sum(r.verdict in ("same", "faster", "SLOWER") for r in rows)
    slower = sum(r.verdict == "SLOWER" for r in rows)
    label = f"reconciler {bench.old.label}" if bench.old else "old reconciler: not built"
    return report.Row(
        "nothing else gets slower (A/B table below)",
        f"{slower} of {compared} slower",
        f"{label}, same run",
        "-",
        "no row slower (>10% and >10 ms)",
        {"yes": "yes", "NO": "NO"}.get(verdict, "n/a" if not compared else "incomplete"),
    )


#: Drift: a row's base/rec ratio fell by more than this since the previous results file.
DRIFT = 0.15


def print_drift(rows: list[report.Row], previous: Path) -> None:
    """Informational only (the "nothing else gets slower" verdict is the same-run A/B): each
    row's base/rec ratio against the same row of an earlier results file (``--compare``,
    default: the file this run replaces). Ratios are taken within a run, but the two runs may
    differ in load and mode, and the baselines themselves move between runs."""
    try:
        before = json.loads(previous.read_text(encoding="utf-8"))
        old = {
            (r["scenario"], r["baseline"].split(":")[0]): r["ratio_value"]
            for r in before.get("rows", [])
            if r.get("ratio_value")
        }
        commit = (before.get("machine", {}).get("git") or {}).get("commit", "?")
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return
    dropped, compared = [], 0
    for row in rows:
        was = old.get((row.scenario, row.baseline.split(":")[0]))
        if was is None or not row.ratio_value:
            continue
        compared += 1
        if row.ratio_value < was * (1 - DRIFT):
            dropped.append(
                f"{row.scenario} vs {row.baseline.split(':')[0]}: {was:.2f}x -> "
                f"{row.ratio_value:.2f}x"
            )
    print(
        f"drift since the previous results file (informational, not a verdict: another run, "
        f"load and mode): base/rec of {compared} rows vs {previous.name} of commit "
        f"{str(commit)[:10]} ({before.get('mode', '?')} mode, load "
        f"{(before.get('load_average') or {}).get('end', '?')}): {len(dropped)} fell by over "
        f"{DRIFT:.0%}"
    )
    for line in dropped:
        print(f"  ratio fell: {line}")


def verify_only(bench: sc.Bench, clock: Clock, ns: tuple[int, ...], out: Path) -> int:
    """``--verify-only``: set up the 20 (and 500) venv projects, measure the `plan --verify`
    rows and the no-op plan they are compared with, print them, write the results file."""
    try:
        clock.log("setting up projects (locks, venvs) ...")
        chosen = [(20, sc.setup_project(bench, "n20", 20, lock_with_reconciler=True))]
        if 500 in ns:
            chosen.append((500, sc.setup_project(bench, "n500", 500, lock_with_reconciler=False)))
        for _, project in chosen:
            bench.ensure_applied(project)
    except BenchError as exc:
        print(f"error: setup failed: {exc}", file=sys.stderr)
        return 1
    for n, project in chosen:
        clock.log(f"plan and plan --verify over {n} venvs ...")
        sc.plan_noop(bench, project, n)
        guarded(
            clock,
            bench,
            f"plan --verify n{n}",
            functools.partial(sc.verify_scenarios, bench, project, n),
        )
    rows = verify_rows(bench.samples)
    print()
    print(report.render(rows))
    for key in ("verify_files_n20", "verify_files_n500"):
        if key in bench.info:
            print(f"{key}: {bench.info[key]}")
    for note in bench.notes:
        print(f"note: {note}")
    results = {
        "format_version": 1,
        "mode": "verify-only",
        "duration_s": round(clock.elapsed(), 1),
        "load_average_end": round(os.getloadavg()[0], 2),
        "info": bench.info,
        "samples": {k: v.to_json() for k, v in bench.samples.items()},
        "rows": [r.to_json() for r in rows],
        "notes": bench.notes,
    }
    out = out.with_name("results-verify.json") if out.name == "results.json" else out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out} ({clock.elapsed():.0f} s in total)")
    return 0


def print_analysis(bench: sc.Bench, analysis: dict[str, object]) -> None:
    """Where the time of a no-op plan goes."""
    s = bench.samples
    startup = s.get("startup.python")
    imports = s.get("startup.import-cli")
    if startup and imports and startup.median and imports.median:
        print(
            f"plan start-up: python alone {startup.median * 1000:.0f} ms; "
            f"+ import reconciler.cli {imports.median * 1000:.0f} ms "
            f"(imports {1000 * (imports.median - startup.median):.0f} ms)"
        )
    for key, value in analysis.items():
        if key.startswith("plan_phases_n") and isinstance(value, dict):
            parts = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in value.items())
            print(f"plan stages in-process ({key.removeprefix('plan_phases_')}): {parts}")
    profile = analysis.get("importtime_plan_n20")
    if isinstance(profile, dict):
        packages = profile.get("by_package_ms", {})
        assert isinstance(packages, dict)
        parts = ", ".join(f"{k} {v:.0f}" for k, v in list(packages.items())[:9])
        print(
            f"-X importtime, plan n20: {profile.get('total_ms'):.0f} ms of imports "
            f"(self time by package, ms): {parts}"
        )
        hook = profile.get("editable_install_hook_ms")
        if hook:
            print(
                f"  of which {hook} ms is the editable-install import hook of the dev venv "
                "(absent from a regular install)"
            )
    for key, value in analysis.items():
        if key.startswith("stage_profile_") and isinstance(value, dict):
            print_stage_profile(value)


def print_stage_profile(profile: dict[str, object]) -> None:
    """Where a cold apply's time goes (RECONCILER_PROFILE), per venv and in total."""
    stages = profile.get("stages_s")
    venvs = int(str(profile.get("venvs") or 1)) or 1
    if not isinstance(stages, dict):
        return
    print(
        f"stage profile, cold apply of {venvs} venvs ({profile.get('project', '?')}), "
        f"--installer {profile['installer']} "
        f"--jobs {profile['jobs']} (median of 3 runs): whole process {profile['wall_s']:.2f} s, "
        f"of which outside the steps (start-up, imports, the plan, the lock) "
        f"{profile['outside_apply_s']:.2f} s"
    )
    for name, seconds in sorted(stages.items(), key=lambda kv: -float(kv[1])):
        share = float(seconds)
        print(f"  {name:<18} {share * 1000:8.1f} ms total  {share * 1000 / venvs:7.1f} ms/venv")


if __name__ == "__main__":
    raise SystemExit(main())
