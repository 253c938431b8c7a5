"""The benchmark's scenarios: reconciler's own commands and the hand-written baselines.

Every command runs as a child process in a hermetic environment (:func:`bench_env`): no
ambient pip or uv configuration, bench-local caches, offline wheelhouse only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ab
import measure
import projects
import realistic
import wheelhouse as wh
from measure import BenchError, Policy, Run, Sample

DEV_BIN = Path(sys.executable).parent


def bench_env(cache: Path) -> dict[str, str]:
    """The environment of every child: ambient pip/uv/Python settings out, local caches in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "RECONCILER_"))
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_CACHE_DIR": str(cache / "pip"),
            "UV_CACHE_DIR": str(cache / "uv"),
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "RECONCILER_CACHE_DIR": str(cache / "reconciler"),
            "NO_COLOR": "1",
        }
    )
    return env


@dataclass
class Bench:
    """Paths, tools and settings shared by every scenario, plus the samples collected so far."""

    root: Path  # build/bench
    house: wh.Wheelhouse
    python: str  # real path of the base interpreter
    major_minor: str
    quick: bool
    runs: int
    slow_runs: int
    baseline_runs: int
    log: Callable[[str], None]
    env: dict[str, str] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)
    #: the new reconciler as a regular install of the working tree (bench/ab.py), None: the
    #: dev venv's editable install (``--dev-venv``, or when that build failed)
    new: ab.Side | None = None
    #: the old reconciler of the same-run A/B (bench/ab.py), None when it is off or unbuilt
    old: ab.Side | None = None
    #: why there is no old side at all (printed under the A/B table)
    ab_off: str = "the A/B is off (--no-ab)"
    #: sample key -> why that row has no old side
    ab_skipped: dict[str, str] = field(default_factory=dict)
    #: sample key -> the option the old reconciler lacks (a row new since the old commit)
    ab_absent: dict[str, str] = field(default_factory=dict)

    # ---- tools -------------------------------------------------------------------------
    @property
    def reconciler(self) -> Path:
        """The new ``reconciler`` console script: of the working tree's regular install, or of
        the dev venv."""
        return self.new.reconciler if self.new else DEV_BIN / "reconciler"

    @property
    def python_bin(self) -> Path:
        """The interpreter of the venv :attr:`reconciler` is installed in."""
        return self.new.python if self.new else DEV_BIN / "python"

    @property
    def uv(self) -> Path:
        """uv from the dev venv (the ``uv`` package)."""
        return DEV_BIN / "uv"

    @property
    def wheels(self) -> Path:
        """The wheelhouse directory."""
        return self.house.path

    def project(self, name: str) -> Path:
        """A project directory under build/bench/projects."""
        return self.root / "projects" / name

    def rec(
        self, project: Path, *args: str | Path, side: ab.Side | None = None
    ) -> list[str | Path]:
        """A reconciler command line for ``project`` (the old reconciler's with ``side``)."""
        return [side.reconciler if side else self.reconciler, "--project", project, *args]

    def run(
        self,
        command: list[str | Path],
        *,
        ok: tuple[int, ...] = (0,),
        capture: bool = False,
        side: ab.Side | None = None,
    ) -> Run:
        """Run a child in the bench environment (``side``'s, for the old reconciler; see
        :func:`measure.run`)."""
        return measure.run(command, env=side.env if side else self.env, ok=ok, capture=capture)

    def policy(self, kind: str) -> Policy:
        """How to repeat a scenario of ``kind`` (see bench/README.md, "Repetitions")."""
        runs, slow, base, quick = self.runs, self.slow_runs, self.baseline_runs, self.quick
        table = {
            "fast": Policy(runs=runs, warmup=1),
            # sub-second and the headline targets: twice the runs against background noise
            # (a row taking seconds per run, `plan --verify` of 500 venvs, stops after 3 runs
            # once it has used 20 s)
            "plan": Policy(runs=runs if quick else 2 * runs, warmup=1, min_runs=3, budget=20),
            "apply-uv": Policy(runs=runs, warmup=0 if quick else 1),
            # the --jobs 2/3/4 rows the default is chosen from: 3 runs
            "apply-uv-jobs": Policy(runs=min(runs, 3), warmup=0 if quick else 1),
            "apply-pip": Policy(runs=slow, warmup=0 if quick else 1),
            # ~45 s a run on 2 cores, no target: half the pip runs (at least one)
            "apply-pip-jobs1": Policy(runs=max(1, slow // 2), warmup=0),
            "lock": Policy(runs=slow, warmup=0) if quick else Policy(runs=min(runs, 3), warmup=1),
            # a baseline taking seconds per run (pip freeze/sync/check loops) stops after 2
            # runs once it has used 25 s
            "baseline-fast": Policy(runs=base, warmup=1, min_runs=min(base, 2), budget=25),
            "baseline-slow": Policy(runs=1, warmup=0),
        }
        return table[kind]

    def measure(self, key: str, description: str, trial: measure.Trial, kind: str) -> Sample:
        """Repeat ``trial`` per the policy of ``kind`` and store the sample under ``key``."""
        sample = Sample(key=key, description=description)
        self.samples[key] = sample
        return measure.repeat(sample, trial, self.policy(kind), self.log)

    def old_policy(self, kind: str) -> Policy:
        """The old reconciler's repetitions: the same as the new one's, except on the rows that
        take seconds per run (pip cold applies, the pip-tools lock): half the runs (at least
        one: 3 -> 2, 2 or 1 -> 1), no warm-up (the caches are the ones the new side's warm-up
        filled)."""
        policy = self.policy(kind)
        if kind in ("apply-pip", "apply-pip-jobs1", "lock"):
            return Policy(runs=max(1, (policy.runs + 1) // 2), warmup=0)
        if kind == "apply-uv-jobs":  # the uv cache is the one the new side's warm-up filled
            return Policy(runs=policy.runs, warmup=0)
        return policy

    def measure_ab(
        self,
        key: str,
        description: str,
        trial_for: Callable[[ab.Side | None], measure.Trial],
        kind: str,
        args: Sequence[str | Path] = (),
    ) -> Sample:
        """:meth:`measure` of ``trial_for(None)`` (the new reconciler), interleaved with
        ``trial_for(old side)`` stored as ``old.<key>`` when there is an old reconciler that
        takes ``args`` (``SUBCOMMAND --option ...``); otherwise the reason is kept in
        :attr:`ab_skipped`."""
        old = self.old
        reason = self.ab_off if old is None else None
        old_trial: measure.Trial | None = None
        if old is not None:
            missing = old.missing_option(args)
            if missing is not None:
                self.ab_absent[key] = f"reconciler {old.label} has no `{missing}`"
                reason = self.ab_absent[key]
            else:
                try:
                    old_trial = trial_for(old)  # may set up the old side's state (untimed)
                except (BenchError, OSError, ValueError) as exc:
                    lines = str(exc).strip().splitlines()
                    reason = f"old side's set-up failed: {lines[-1] if lines else exc!r}"
                    self.log(f"  ! {key}: {reason}")
        if old is None or old_trial is None:
            self.ab_skipped[key] = reason or "not measured"
            return self.measure(key, description, trial_for(None), kind)
        new_sample = Sample(key=key, description=description)
        old_sample = Sample(key=f"old.{key}", description=f"{description} [reconciler {old.label}]")
        self.samples[key] = new_sample
        self.samples[old_sample.key] = old_sample
        measure.repeat_ab(
            new_sample,
            old_sample,
            (trial_for(None), old_trial),
            (self.policy(kind), self.old_policy(kind)),
            self.log,
        )
        return new_sample

    def state_for(self, side: ab.Side | None, project: Path, *, applied: bool = True) -> Path:
        """The project ``side`` times a row of ``project`` on (``applied``: with its venvs up
        to date for that side).

        The new reconciler: ``project`` itself. The old one: ``project`` too when it reads its
        locks as fresh and (``applied``) plans no change to the venvs the new one applied;
        otherwise a sibling copy, ``<name>.old-<commit>``, with the same settings and the same
        pins locked by the old reconciler in its own format (checked: a pin that differs is a
        note), applied by it when ``applied``.
        """
        if side is None:
            return project
        chosen = side.projects.get(project)
        if chosen is None:
            chosen = project
            if not self.locks_fresh(project, side) or (
                applied and self.plan_exit(project, side) != 0
            ):
                chosen = self._old_copy(project, side)
            side.projects[project] = chosen
        if applied and chosen not in side.applied:
            self.ensure_applied(chosen, side)
            side.applied.add(chosen)
        return chosen

    def locks_fresh(self, project: Path, side: ab.Side | None = None) -> bool:
        """Whether ``lock --check`` (of ``side``'s reconciler) calls every lock fresh."""
        command = self.rec(project, "lock", "--check", side=side)
        return self.run(command, ok=(0, 2), side=side).returncode == 0

    def _old_copy(self, project: Path, side: ab.Side) -> Path:
        """``project``'s sibling for the old reconciler (see :meth:`state_for`): its settings,
        and locks with the same pins that the old reconciler reads (a lock is copied only when
        its pins differ, then ``lock`` re-resolves what the old one calls stale)."""
        copy = project.with_name(f"{project.name}.old-{side.label}")
        (copy / "lock").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project / "reconciler.toml", copy / "reconciler.toml")
        for lock in (copy / "lock").glob("*.txt"):
            if not (project / "lock" / lock.name).is_file():
                lock.unlink()
        for lock in (project / "lock").glob("*.txt"):
            mine = copy / "lock" / lock.name
            if not mine.is_file() or _pinned(mine) != _pinned(lock):
                shutil.copyfile(lock, mine)
        if not self.locks_fresh(copy, side):
            started = time.perf_counter()
            self.run(self.rec(copy, "lock", side=side), side=side)
            self.log(
                f"  locked {copy.name} with reconciler {side.label} in "
                f"{time.perf_counter() - started:.1f} s"
            )
        differ = sorted(
            lock.name
            for lock in (project / "lock").glob("*.txt")
            if _pinned(copy / "lock" / lock.name) != _pinned(lock)
        )
        note = (
            f"reconciler {side.label} cannot use {project.name} as the new one left it (its "
            f"locks or venvs are not current for it): its rows run on {copy.name}, the same "
            "settings locked and applied by it"
            + (f"; pins differ in {len(differ)} locks: {', '.join(differ[:3])}" if differ else "")
        )
        self.notes.append(note)
        self.log(f"  {note}")
        return copy

    # ---- project state -------------------------------------------------------------------
    def plan_exit(self, project: Path, side: ab.Side | None = None) -> int:
        """Exit code of ``plan --detailed-exitcode`` (0 no changes, 2 changes)."""
        command = self.rec(project, "plan", "--detailed-exitcode", side=side)
        return self.run(command, ok=(0, 2), side=side).returncode

    def ensure_applied(self, project: Path, side: ab.Side | None = None) -> None:
        """Apply ``project`` unless its plan is already a no-op; fail unless it then is."""
        if self.plan_exit(project, side) == 0:
            return
        started = time.perf_counter()
        try:
            self.run(self.rec(project, "apply", "--installer", "uv", side=side), side=side)
        except BenchError as exc:
            self.log(f"  ! apply --installer uv failed ({str(exc).splitlines()[0]}); trying pip")
            self.run(self.rec(project, "apply", "--installer", "pip", side=side), side=side)
        by = f" with reconciler {side.label}" if side else ""
        self.log(f"  applied {project.name}{by} in {time.perf_counter() - started:.1f} s")
        if self.plan_exit(project, side) != 0:
            raise BenchError(f"{project}: plan still shows changes after apply{by}")

    def lock_check(self, project: Path) -> None:
        """Abort unless ``reconciler lock --check`` calls every lock of ``project`` fresh."""
        result = self.run(self.rec(project, "lock", "--check"), ok=(0, 2), capture=True)
        if result.returncode != 0:
            tail = "\n".join(result.output.strip().splitlines()[-5:])
            raise BenchError(f"{project.name}: `reconciler lock --check` is not fresh:\n{tail}")

    def lock_help(self) -> str:
        """``reconciler lock --help``."""
        return self.run([self.reconciler, "lock", "--help"], capture=True).output


# ---- setup ------------------------------------------------------------------------------


def setup_project(bench: Bench, name: str, n: int, *, lock_with_reconciler: bool) -> Path:
    """Create project ``name`` for ``n`` plugins and give it fresh locks."""
    project = bench.project(name)
    key = {
        "wheelhouse": bench.info.get("wheelhouse_digest"),
        "python": bench.python,
        "spec": wh.SPEC_VERSION,
    }
    plugins = [wh.plugin_name(i) for i in range(n)]
    created = projects.prepare(project, plugins, bench.wheels, bench.python, key)
    if lock_with_reconciler:
        started = time.perf_counter()
        try:
            result = bench.run(bench.rec(project, "lock"), capture=True)
        except BenchError as exc:
            first = str(exc).strip().splitlines()
            note = (
                f"{name}: `reconciler lock` failed ({first[-1] if first else exc}); "
                "locks were generated directly instead"
            )
            bench.notes.append(note)
            bench.log(f"  ! {note}")
            projects.write_locks(
                project, n, bench.house, bench.python, bench.major_minor, bench.wheels
            )
        else:
            written = re.search(r"(\d+) written", result.output)
            if written and written.group(1) != "0":
                bench.log(
                    f"  locked {name} with `reconciler lock` ({written.group(1)} written) in "
                    f"{time.perf_counter() - started:.1f} s"
                )
    else:
        changed = projects.write_locks(
            project, n, bench.house, bench.python, bench.major_minor, bench.wheels
        )
        if changed:
            bench.log(f"  wrote {changed} locks of {name} directly")
    bench.lock_check(project)
    if created:
        bench.log(f"  created project {name} ({n} plugins)")
    return project


# ---- plan ---------------------------------------------------------------------------------


def plan_noop(bench: Bench, project: Path, n: int, *, verify: bool = False) -> Sample:
    """No-op ``plan`` (``plan --verify``) over ``n`` venvs (exit 0 required: it really is a
    no-op)."""
    args = (
        ("plan", "--verify", "--detailed-exitcode") if verify else ("plan", "--detailed-exitcode")
    )
    return bench.measure_ab(
        f"plan.{'verify' if verify else 'noop'}.n{n}",
        f"reconciler {' '.join(args)} over {n} up-to-date venvs",
        _applied_trial(bench, project, args),
        "plan",
        args,
    )


def _applied_trial(
    bench: Bench, project: Path, args: Sequence[str]
) -> Callable[[ab.Side | None], measure.Trial]:
    """The trials of ``reconciler ARGS`` over a project's up-to-date venvs (exit 0 required),
    each side on the state it calls current (:meth:`Bench.state_for`)."""

    def trial_for(side: ab.Side | None) -> measure.Trial:
        command = bench.rec(bench.state_for(side, project), *args, side=side)
        return lambda: bench.run(command, side=side)

    return trial_for


def plan_with_shim(bench: Bench, project: Path) -> Sample | None:
    """The same no-op plan with ``python = "python3"`` when that is a launcher script on PATH."""
    found = shutil.which("python3", path=bench.env.get("PATH"))
    if found is None:
        return None
    with Path(found).open("rb") as handle:
        if handle.read(2) != b"#!":
            return None
    args = ("plan", "--detailed-exitcode")

    def trial_for(side: ab.Side | None) -> measure.Trial:
        where = bench.state_for(side, project)
        variant = where / "reconciler-python3.toml"
        text = (where / "reconciler.toml").read_text(encoding="utf-8")
        replaced = text.replace(f'python = "{bench.python}"', 'python = "python3"')
        variant.write_text(replaced, "utf-8")
        command = bench.rec(variant, *args, side=side)
        return lambda: bench.run(command, side=side)

    return bench.measure_ab(
        "plan.noop.n20.python3-shim",
        f'the no-op plan over 20 venvs with python = "python3" ({found}, a launcher script)',
        trial_for,
        "plan",
        args,
    )


def startup_costs(bench: Bench) -> None:
    """Interpreter start-up alone, and start-up plus ``import reconciler.cli``."""
    python = bench.python_bin
    bench.measure(
        "startup.python",
        "python -c pass (the venv of the reconciler timed)",
        lambda: bench.run([python, "-c", "pass"]),
        "fast",
    )

    def trial_for(side: ab.Side | None) -> measure.Trial:
        interpreter = side.python if side else python
        return lambda: bench.run([interpreter, "-c", "import reconciler.cli"], side=side)

    bench.measure_ab(
        "startup.import-cli",
        "python -c 'import reconciler.cli' (everything `reconciler plan` imports at start)",
        trial_for,
        "fast",
    )


def import_profile(bench: Bench, project: Path) -> dict[str, object]:
    """``python -X importtime -m reconciler plan``: import time per package, slowest modules.

    Self times are summed per top-level package (the standard library counted as one), so the
    numbers add up to the total; best of 3 runs by total.
    """
    best: dict[str, object] = {}
    for _ in range(3):
        result = bench.run(
            [
                bench.python_bin,
                "-X",
                "importtime",
                "-m",
                "reconciler",
                "--project",
                project,
                "plan",
            ],
            capture=True,
        )
        rows: list[tuple[int, str]] = []
        editable_us = 0
        for line in result.output.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
            if m:
                rows.append((int(m.group(1)), m.group(3)))
                if m.group(3).startswith("__editable__"):
                    editable_us += int(m.group(2))
        total = sum(us for us, _ in rows) / 1000
        if best and total >= float(best["total_ms"]):  # type: ignore[arg-type]
            continue
        by_package: dict[str, float] = {}
        for us, name in rows:
            root = name.split(".")[0]
            if root.startswith("__editable__"):
                group = "editable-install hook"
            elif root in sys.stdlib_module_names or root.startswith("_"):
                group = "stdlib"
            else:
                group = root
            by_package[group] = by_package.get(group, 0.0) + us / 1000
        slowest = sorted(rows, reverse=True)[:10]
        best = {
            "total_ms": round(total, 1),
            "by_package_ms": {
                k: round(v, 1) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
            },
            "slowest_modules_self_ms": {name: round(us / 1000, 1) for us, name in slowest},
            "editable_install_hook_ms": round(editable_us / 1000, 1),
        }
    return best


_APPLY_PROFILE = r"""
import collections, json, subprocess, sys, threading, time
stats = collections.defaultdict(lambda: [0, 0.0])
guard = threading.Lock()
real_run = subprocess.run
def timed_run(cmd, *args, **kwargs):
    started = time.perf_counter()
    try:
        return real_run(cmd, *args, **kwargs)
    finally:
        parts = [str(c).rsplit("/", 1)[-1] for c in cmd]
        key = " ".join(parts[:3]) if parts[0] == "uv" or "-m" in parts[1:3] else " ".join(parts[:2])
        with guard:
            stats[key][0] += 1
            stats[key][1] += time.perf_counter() - started
subprocess.run = timed_run
t0 = time.perf_counter()
from reconciler.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
total = time.perf_counter() - t0
print("BENCH-PROFILE " + json.dumps({"total": total, "children": stats}))
"""


def apply_profile(bench: Bench, project: Path, installer: str) -> dict[str, object]:
    """Cold ``apply --jobs 1``: time inside each kind of child process vs the whole (one run).

    Wraps :func:`subprocess.run` inside the reconciler process, so it depends on reconciler
    starting its children that way; children started otherwise are counted as reconciler time.
    """
    shutil.rmtree(project / ".venvs", ignore_errors=True)
    args: list[str | Path] = ["--project", project, "apply", "--installer", installer]
    command: list[str | Path] = [bench.python_bin, "-c", _APPLY_PROFILE, *args, "--jobs", "1"]
    result = bench.run(command, capture=True)
    line = next(x for x in result.output.splitlines() if x.startswith("BENCH-PROFILE "))
    data = json.loads(line.removeprefix("BENCH-PROFILE "))
    children = {
        key: {"count": n, "seconds": round(s, 3), "avg_ms": round(1000 * s / n, 1)}
        for key, (n, s) in sorted(data["children"].items(), key=lambda kv: -kv[1][1])
    }
    inside = sum(float(v["seconds"]) for v in children.values())
    return {
        "installer": installer,
        "total_s": round(data["total"], 3),
        "children_s": round(inside, 3),
        "reconciler_own_s": round(data["total"] - inside, 3),
        "children": children,
    }


_PHASES = r"""
import json, sys, time
t = time.perf_counter
t0 = t()
from pathlib import Path
from reconciler import render
from reconciler.commands import project as app
from reconciler import sources
from reconciler.sources import toml as config
from reconciler import interpreters
from reconciler.observe import observe
from reconciler.plan import make_plan
t1 = t()
project = Path(sys.argv[1])
desired = config.load(sources.find_project_file(project))
t2 = t()
interps = {}
specs = {}
for p in desired.plugins:
    if p.python not in specs:
        specs[p.python] = interpreters.resolve(p.python, desired.project_dir)
    interps[p.name] = specs[p.python]
t3 = t()
observation = observe(desired.layout)
t4 = t()
locks = app.read_locks(desired)
t5 = t()
plan = make_plan(desired, locks, interps, observation)
t6 = t()
text = render.human(plan, color=False)
t7 = t()
print(json.dumps({"imports": t1 - t0, "config": t2 - t1, "interpreter": t3 - t2,
                  "observe": t4 - t3, "read_locks": t5 - t4, "plan": t6 - t5,
                  "render": t7 - t6, "changes": len(plan.changes)}))
"""


def plan_phases(bench: Bench, project: Path) -> dict[str, object]:
    """Seconds per stage of a no-op plan, measured inside one process (best of 3)."""
    best: dict[str, float] = {}
    for _ in range(3):
        result = bench.run([bench.python_bin, "-c", _PHASES, project], capture=True)
        data = json.loads(result.output.strip().splitlines()[-1])
        for key, value in data.items():
            if key != "changes":
                best[key] = min(best.get(key, value), value)
    return {k: round(v, 4) for k, v in best.items()}


# ---- cold apply ----------------------------------------------------------------------------


def cold_apply(
    bench: Bench,
    project: Path,
    installer: str,
    jobs1: bool,
    *,
    jobs: int | None = None,
    kind: str | None = None,
) -> Sample:
    """``apply`` of every venv from nothing (``.venvs`` deleted before each run), with
    ``--jobs 1`` (``jobs1``), ``--jobs N`` (``jobs``) or the default job count."""
    jobs = 1 if jobs1 else jobs
    args: list[str | Path] = ["apply", "--installer", installer]
    if jobs is not None:
        args += ["--jobs", str(jobs)]
    sample = bench.measure_ab(
        f"apply.cold.n20.{installer}.{'default' if jobs is None else f'jobs{jobs}'}",
        f"reconciler {' '.join(map(str, args))} of 20 venvs, from nothing",
        _cold_trial(bench, project, args),
        kind
        or ("apply-uv" if installer == "uv" else ("apply-pip-jobs1" if jobs == 1 else "apply-pip")),
        args,
    )
    if sample.error is None and bench.plan_exit(project) != 0:
        sample.error = "plan shows changes after the cold apply"
    return sample


def _cold_trial(
    bench: Bench, project: Path, args: Sequence[str | Path]
) -> Callable[[ab.Side | None], measure.Trial]:
    """A cold apply's trials: ``.venvs`` deleted (untimed), then ``reconciler ARGS`` by the
    given side on the same project (or the old side's copy, :meth:`Bench.state_for`)."""

    def trial_for(side: ab.Side | None) -> measure.Trial:
        where = bench.state_for(side, project, applied=False)
        command = bench.rec(where, *args, side=side)

        def trial() -> Run:
            shutil.rmtree(where / ".venvs", ignore_errors=True)
            return bench.run(command, side=side)

        return trial

    return trial_for


def _pinned(lock: Path) -> set[str]:
    """What a lock pins (requirement and ``--hash`` tokens; comments, the header and the
    layout left out), to tell whether two resolvers' locks install the same thing."""
    tokens: set[str] = set()
    try:
        text = lock.read_text(encoding="utf-8")
    except OSError:
        return tokens
    for line in text.splitlines():
        code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        tokens.update(t for t in code.split() if t != "\\")
    return tokens


def _lock_of(bench: Bench, name: str) -> Path:
    return bench.project("n20") / "lock" / f"{name}.txt"


def naive_loop(bench: Bench, n: int) -> Sample:
    """Sequential ``python -m venv`` (pip seeded) + ``pip install --no-deps -r lock`` per plugin
    (~6 s a plugin on 2 cores, much the same for each: timed over 5 plugins, 4 with
    ``--quick``, and scaled)."""
    k = min(n, 4 if bench.quick else 5)
    names = [wh.plugin_name(i) for i in range(k)]
    base = bench.root / "baseline" / "venv-pip"

    def step(name: str) -> None:
        venv = base / name
        bench.run([bench.python, "-m", "venv", venv])
        bench.run(
            [
                venv / "bin" / "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-index",
                "--find-links",
                bench.wheels,
                "-r",
                _lock_of(bench, name),
            ]
        )

    trial = _fresh_loop(base, names, step)

    return _loop_sample(
        bench,
        "baseline.cold.n20.venv-pip-loop",
        "sequential `python -m venv` (pip seeded) + `pip install --no-deps -r lock`, per plugin",
        trial,
        n,
        k,
        "baseline-slow",
    )


def uv_loop(bench: Bench, n: int, *, new_paths: bool = False) -> Sample:
    """Sequential ``uv venv`` + ``uv pip sync`` per plugin (uv cache already warm).

    uv caches what it learns by running an interpreter under the interpreter's path, so a
    loop that recreates venvs at the same paths skips that query (~40 ms per venv) after its
    first run, while reconciler builds every venv in a new generation directory. With
    ``new_paths`` the loop uses fresh directories on every run, like a first deploy.
    """
    names = [wh.plugin_name(i) for i in range(n)]
    base = bench.root / "baseline" / ("uv-new-paths" if new_paths else "uv")

    def step(name: str) -> None:
        venv = base / (f"{name}-{time.time_ns():x}" if new_paths else name)
        bench.run([bench.uv, "venv", "--no-config", "--quiet", "--python", bench.python, venv])
        bench.run(_uv_sync(bench, venv, bench.wheels, _lock_of(bench, name)))

    trial = _fresh_loop(base, names, step)

    if new_paths:
        key = "baseline.cold.n20.uv-loop-new-paths"
        what = "the uv loop, every venv at a new path (no cached interpreter query)"
    else:
        key = "baseline.cold.n20.uv-loop"
        what = "sequential `uv venv` + `uv pip sync lock`, per plugin, warm uv cache"
    return _loop_sample(bench, key, what, trial, n, n, "baseline-fast")


def _uv_sync(bench: Bench, venv: Path, wheels: Path, lock: Path) -> list[str | Path]:
    """``uv pip sync`` of ``venv`` to ``lock``, offline from ``wheels``."""
    python = venv / "bin" / "python"
    offline: list[str | Path] = ["--no-index", "--find-links", wheels, lock]
    return [bench.uv, "pip", "sync", "--no-config", "--quiet", "--python", python, *offline]


def _fresh_loop(work: Path, names: list[str], step: Callable[[str], None]) -> Callable[[], float]:
    """A trial: ``work`` emptied (untimed), then ``step(name)`` for each of ``names``, timed."""

    def trial() -> float:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.perf_counter()
        for name in names:
            step(name)
        return time.perf_counter() - started

    return trial


def _meltano_env(bench: Bench) -> dict[str, str]:
    """The environment ``meltano install`` runs in: its uv backend (uv from the dev venv), no
    telemetry."""
    return {
        **bench.env,
        "PATH": f"{DEV_BIN}{os.pathsep}{bench.env.get('PATH', '')}",
        "MELTANO_VENV_BACKEND": "uv",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DISABLE_TRACKING": "true",
    }


def _each_venv(
    bench: Bench, names: list[str], command: Callable[[str], list[str | Path]]
) -> Callable[[], float]:
    """A trial: ``command(name)`` run for each of ``names`` in turn, timed as one."""

    def trial() -> float:
        started = time.perf_counter()
        for name in names:
            bench.run(command(name))
        return time.perf_counter() - started

    return trial


def _loop_sample(
    bench: Bench, key: str, description: str, trial: measure.Trial, n: int, k: int, kind: str
) -> Sample:
    sample = Sample(key=key, description=description)
    if k != n:
        sample.estimated_from = k
        sample.scale = n / k
        sample.notes.append(f"timed over {k} plugins and scaled by {n}/{k}")
    bench.samples[key] = sample
    return measure.repeat(sample, trial, bench.policy(kind), bench.log)


# ---- no-op baselines -----------------------------------------------------------------------


def pip_sync_noop(bench: Bench, n: int) -> Sample:
    """``pip-sync --dry-run --python-executable`` per venv (venvs of the naive loop: pip inside)."""
    base = bench.root / "baseline" / "venv-pip"
    names = sorted(p.name for p in base.iterdir()) if base.is_dir() else []

    each = _each_venv(
        bench,
        names,
        lambda name: [
            DEV_BIN / "pip-sync",
            "--dry-run",
            "--quiet",
            "--python-executable",
            base / name / "bin" / "python",
            "--no-index",
            "--find-links",
            bench.wheels,
            _lock_of(bench, name),
        ],
    )

    def trial() -> float:
        if not names:
            raise BenchError("no venvs with pip (the venv+pip loop failed)")
        return each()

    return _loop_sample(
        bench,
        "baseline.noop.n20.pip-sync",
        "`pip-sync --dry-run --python-executable V/bin/python lock` per venv (exit 0 = in sync)",
        trial,
        n,
        max(len(names), 1),
        "baseline-fast",
    )


def pip_freeze_noop(bench: Bench, project: Path, n: int) -> Sample:
    """``pip --python V freeze`` per venv, output checked against the lock once."""
    k = min(n, 4 if bench.quick else 10)  # ~0.6 s a venv: timed over 10 (4) and scaled
    names = [wh.plugin_name(i) for i in range(k)]
    checked: list[bool] = []

    def trial() -> float:
        started = time.perf_counter()
        outputs = []
        for name in names:
            result = bench.run(
                [
                    DEV_BIN / "pip",
                    "--python",
                    project / ".venvs" / name / "bin" / "python",
                    "freeze",
                ],
                capture=not checked,
            )
            outputs.append((name, result.output))
        seconds = time.perf_counter() - started
        if not checked:
            for name, output in outputs:
                got = {line.strip().lower() for line in output.splitlines() if "==" in line}
                want = projects.pins(_lock_of(bench, name))
                if got != want:
                    raise BenchError(f"pip freeze of {name} differs from its lock: {got ^ want}")
            checked.append(True)
        return seconds

    return _loop_sample(
        bench,
        "baseline.noop.n20.pip-freeze",
        "`pip --python V/bin/python freeze` per venv (reconciler's venvs), compared with the lock",
        trial,
        n,
        k,
        "baseline-fast",
    )


def uv_sync_noop(bench: Bench, n: int) -> Sample:
    """``uv pip sync`` re-run per venv of the uv loop (nothing to do)."""
    base = bench.root / "baseline" / "uv"
    names = [wh.plugin_name(i) for i in range(n)]

    trial = _each_venv(
        bench,
        names,
        lambda name: _uv_sync(bench, base / name, bench.wheels, _lock_of(bench, name)),
    )

    return _loop_sample(
        bench,
        "baseline.noop.n20.uv-sync",
        "`uv pip sync lock` re-run per venv of the uv loop",
        trial,
        n,
        n,
        "baseline-fast",
    )


# ---- one changed pin -------------------------------------------------------------------------


def upgrade(bench: Bench, project: Path, installer: str) -> Sample:
    """One plugin's lock moves the upgrade library 1.0.0 -> 1.1.0; time ``apply``.

    Before every run the old pin is put back and applied (untimed), so each timed apply is the
    same in-place upgrade of one package in one of the 20 venvs.
    """
    name = f"{wh.plugin_name(0)}.txt"
    args = ("apply", "--installer", installer)
    locks: dict[Path, str] = {}  # lock -> its text with the new pin, put back at the end

    def trial_for(side: ab.Side | None) -> measure.Trial:
        where = bench.state_for(side, project)
        lock = where / "lock" / name
        new_text = locks.setdefault(lock, lock.read_text(encoding="utf-8"))
        old_text = projects.swap_pin(new_text, bench.house, wh.NEW_VERSION, wh.OLD_VERSION)
        command = bench.rec(where, *args, side=side)

        def trial() -> Run:
            lock.write_text(old_text, encoding="utf-8")
            bench.run(command, side=side)
            lock.write_text(new_text, encoding="utf-8")
            result = bench.run(command, capture=True, side=side)
            if "1 upgraded" not in result.output:
                raise BenchError(f"apply did not report one upgrade:\n{result.output[-500:]}")
            return result

        return trial

    try:
        sample = bench.measure_ab(
            f"apply.upgrade.{installer}",
            f"reconciler apply --installer {installer} after one pin changed "
            f"({wh.UPGRADE_LIBRARY} {wh.OLD_VERSION} -> {wh.NEW_VERSION} in 1 of 20 venvs)",
            trial_for,
            "apply-uv",
            args,
        )
    finally:
        for lock, text in locks.items():
            lock.write_text(text, encoding="utf-8")
    if sample.error is None and bench.plan_exit(project) != 0:
        sample.error = "plan shows changes after the upgrade"
    return sample


def single_install(bench: Bench, installer: str) -> Sample:
    """Reference: install just the upgraded wheel, ``--no-deps``, into a fresh empty venv."""
    fresh = bench.root / "baseline" / "single"
    wheel = bench.house.wheel(wh.UPGRADE_LIBRARY, wh.NEW_VERSION)

    def trial() -> Run:
        shutil.rmtree(fresh, ignore_errors=True)
        if installer == "pip":
            bench.run([bench.python, "-m", "venv", "--without-pip", fresh])
            return bench.run(
                [
                    DEV_BIN / "python",
                    "-m",
                    "pip",
                    "--python",
                    fresh / "bin" / "python",
                    "install",
                    "--quiet",
                    "--no-deps",
                    wheel,
                ]
            )
        bench.run([bench.uv, "venv", "--no-config", "--quiet", "--python", bench.python, fresh])
        return bench.run(
            [
                bench.uv,
                "pip",
                "install",
                "--no-config",
                "--quiet",
                "--no-deps",
                "--python",
                fresh / "bin" / "python",
                wheel,
            ]
        )

    command = (
        "python -m pip --python V/bin/python install --no-deps <wheel>"
        if installer == "pip"
        else "uv pip install --no-deps --python V/bin/python <wheel>"
    )
    return bench.measure(
        f"baseline.single-install.{installer}",
        f"`{command}` into a fresh empty venv (venv creation untimed)",
        trial,
        "baseline-fast",
    )


# ---- lock ------------------------------------------------------------------------------------


def lock_jobs(bench: Bench, project: Path, jobs1: bool) -> Sample:
    """``reconciler lock --resolver pip-tools`` of 10 plugins from no locks, ``--jobs 1`` or not.

    (The pip-tools resolver, as this row measured before uv became the default resolver.)
    """
    args: list[str | Path] = ["lock", "--resolver", "pip-tools"]
    if jobs1:
        args += ["--jobs", "1"]
    return _lock_from_nothing(bench, project, args, f"lock.n10.{'jobs1' if jobs1 else 'default'}")


def lock_resolver(bench: Bench, project: Path, resolver: str) -> Sample:
    """``reconciler lock --resolver X`` of 10 plugins from no locks (default ``--jobs``)."""
    args: list[str | Path] = ["lock", "--resolver", resolver]
    # sub-second with uv: as many runs as the loop it is compared with, after a warm-up
    kind = "fast" if resolver == "uv" else "lock"
    return _lock_from_nothing(bench, project, args, f"lock.n10.resolver-{resolver}", kind)


def _lock_from_nothing(
    bench: Bench, project: Path, args: list[str | Path], key: str, kind: str = "lock"
) -> Sample:
    """``reconciler ARGS`` (a lock command) timed with every lock deleted first, measured as
    ``kind``; the locks it wrote are checked afterwards (an error in the sample, not raised)."""

    def trial_for(side: ab.Side | None) -> measure.Trial:
        command = bench.rec(project, *args, side=side)

        def trial() -> Run:
            for path in (project / "lock").glob("*.txt"):
                path.unlink()
            return bench.run(command, side=side)

        return trial

    sample = bench.measure_ab(
        key,
        f"reconciler {' '.join(str(a) for a in args)} of 10 plugins, no locks present",
        trial_for,
        kind,
        args,
    )
    try:
        bench.lock_check(project)
    except BenchError as exc:
        sample.error = sample.error or str(exc)
    return sample


def uv_compile_loop(bench: Bench, n: int) -> Sample:
    """The hand-written ``uv pip compile --generate-hashes`` loop over the same 10 inputs."""
    names = [wh.plugin_name(i) for i in range(n)]
    work = bench.root / "baseline" / "uv-compile"

    def step(name: str) -> None:
        source = work / f"{name}.in"
        source.write_text(f"{name}\n", encoding="utf-8")
        bench.run(
            [
                bench.uv,
                "pip",
                "compile",
                "--no-config",
                "--quiet",
                "--generate-hashes",
                "--no-index",
                "--find-links",
                bench.wheels,
                "--python-version",
                bench.major_minor,
                "--output-file",
                work / f"{name}.txt",
                source,
            ]
        )

    trial = _fresh_loop(work, names, step)

    return _loop_sample(
        bench,
        "baseline.lock.n10.uv-compile-loop",
        "sequential `uv pip compile --generate-hashes --python-version X.Y` per plugin",
        trial,
        n,
        n,
        "baseline-fast",
    )


def apply_noop(bench: Bench, project: Path) -> Sample:
    """``reconciler apply`` when every venv already matches (exit 0, nothing touched)."""
    return bench.measure_ab(
        "apply.noop.n20",
        "reconciler apply over 20 up-to-date venvs (nothing to do)",
        _applied_trial(bench, project, ("apply",)),
        "plan",
        ("apply",),
    )


# ---- meltano (optional) --------------------------------------------------------------------


MELTANO_BIN = Path(__file__).resolve().parent.parent / "build" / "meltano" / "bin" / "meltano"


def meltano_install(bench: Bench, n: int) -> tuple[Sample | None, Sample | None]:
    """``meltano install`` of the same plugins, cold and as a no-op re-run (uv backend).

    The Meltano is the one ``make meltano`` builds from its own hashed lock (``lock/meltano.txt``)
    into ``build/meltano``; without it both samples are None and a note says so.
    """
    meltano = MELTANO_BIN if MELTANO_BIN.exists() else None
    if meltano is None:
        bench.notes.append(
            f"meltano rows not measured: {MELTANO_BIN} is missing (build it with `make meltano`)"
        )
        bench.log("  meltano is not built (make meltano): skipped")
        return None, None
    project = bench.root / "baseline" / "meltano"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    lines = [
        "version: 1",
        "project_id: reconciler-bench",
        "default_environment: dev",
        "environments:",
        "- name: dev",
        "plugins:",
        "  extractors:",
    ]
    for i in range(n):
        name = wh.plugin_name(i)
        lines += [
            f"  - name: {name}",
            f"    namespace: {name.replace('-', '_')}",
            f"    pip_url: {name}==1.0.0 --no-index --find-links {bench.wheels}",
            f"    executable: {name}",
        ]
    (project / "meltano.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = _meltano_env(bench)

    def cold() -> Run:
        shutil.rmtree(project / ".meltano", ignore_errors=True)
        return measure.run([meltano, "install"], env=env, cwd=project)

    cold_sample = bench.measure(
        "baseline.cold.n20.meltano-install",
        f"`meltano install` of the {n} plugins (uv backend, wheelhouse pip_url), cold",
        cold,
        "baseline-fast",
    )
    noop_sample = bench.measure(
        "baseline.noop.n20.meltano-install",
        f"`meltano install` re-run over the {n} installed plugins",
        lambda: measure.run([meltano, "install"], env=env, cwd=project),
        "baseline-fast",
    )
    return cold_sample, noop_sample


def tool_version(command: list[str | Path], env: dict[str, str]) -> str:
    """First line of a ``--version`` output, or ``unknown``."""
    try:
        out = subprocess.run(
            [str(c) for c in command], capture_output=True, text=True, env=env, check=False
        )
    except OSError:
        return "unknown"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


# ---- plan --verify (installed files against RECORD) ------------------------------------------

_HASH_LOOP = r"""
import hashlib, sys
with open(sys.argv[1], 'rb') as listing:
    paths = listing.read().split(b'\0')
for path in paths:
    if path:
        with open(path, 'rb') as handle:
            hashlib.file_digest(handle, 'sha256')
"""


def record_files(bench: Bench, project: Path, n: int) -> Path:
    """A NUL-separated list of every file the RECORDs of ``project``'s venvs list with a hash
    (exactly what ``plan --verify`` reads), written under build/bench; checked non-empty."""
    import csv  # noqa: PLC0415

    found: list[str] = []
    for venv in sorted((project / ".venvs").iterdir()):
        if venv.name.startswith("."):
            continue
        real = Path(os.path.realpath(venv))
        for record in sorted(real.glob("lib/python3*/site-packages/*.dist-info/RECORD")):
            site = record.parent.parent
            with record.open(encoding="utf-8", newline="") as handle:
                for row in csv.reader(handle):
                    if len(row) > 1 and row[1] and "__pycache__" not in row[0]:
                        found.append(os.path.normpath(site / row[0]))
    if not found:
        raise BenchError(f"no RECORD entries under {project / '.venvs'}")
    listing = bench.root / f"record-files-n{n}.bin"
    listing.write_bytes(b"\0".join(os.fsencode(f) for f in found))
    bench.info[f"verify_files_n{n}"] = {
        "files": len(found),
        "bytes": sum(Path(f).stat().st_size for f in found),
    }
    return listing


def plan_verify(bench: Bench, project: Path, n: int) -> Sample:
    """``plan --verify`` over ``n`` up-to-date venvs (exit 0 required: every file matches)."""
    return plan_noop(bench, project, n, verify=True)


def read_files_once(bench: Bench, listing: Path, n: int) -> tuple[Sample, Sample]:
    """The floor ``--verify`` is held to: the same files read once by ``cat`` (one process),
    and read and hashed by a minimal Python sha256 loop (one process, interpreter start-up
    included, as in the plan)."""
    cat = bench.measure(
        f"baseline.verify.n{n}.cat",
        f"`xargs -0 cat` of every file the RECORDs of {n} venvs list",
        lambda: bench.run(["xargs", "-0", "-a", listing, "cat"]),
        "baseline-fast",
    )
    hashed = bench.measure(
        f"baseline.verify.n{n}.sha256-loop",
        f"`python -c` reading and sha256-hashing the same files ({n} venvs)",
        lambda: bench.run([sys.executable, "-c", _HASH_LOOP, listing]),
        "baseline-fast",
    )
    return cat, hashed


def pip_check(bench: Bench, project: Path, n: int) -> Sample:
    """``pip --python V check`` per venv (what people run to check a venv's health).

    Timed over the first 20 venvs (4 with ``--quick``) and scaled to ``n``; for ``n`` > 20 the
    20-venv row's runs are reused when it was measured: its venvs hold the same plugins from
    the same locks, so the loop would time the same work again.
    """
    k = min(n, 4 if bench.quick else 20)
    names = [wh.plugin_name(i) for i in range(k)]
    same = bench.samples.get("baseline.verify.n20.pip-check")
    if n > 20 and same is not None and same.error is None and same.seconds:
        key = f"baseline.verify.n{n}.pip-check"
        sample = Sample(
            key=key,
            description=f"`pip --python V/bin/python check` per venv ({n} venvs)",
            seconds=list(same.seconds),
            warmup=list(same.warmup),
            runs_requested=same.runs_requested,
            estimated_from=same.estimated_from or 20,
            scale=n / (same.estimated_from or 20),
            notes=[f"the runs of {same.key} (the same plugins and locks), scaled to {n} venvs"],
        )
        bench.samples[key] = sample
        bench.log(f"  {key}: {sample.median:.3f} s (est. from the 20-venv row's runs)")
        return sample

    def trial() -> float:
        started = time.perf_counter()
        for name in names:
            python = project / ".venvs" / name / "bin" / "python"
            bench.run([DEV_BIN / "pip", "--python", python, "check"])
        return time.perf_counter() - started

    return _loop_sample(
        bench,
        f"baseline.verify.n{n}.pip-check",
        f"`pip --python V/bin/python check` per venv ({n} venvs)",
        trial,
        n,
        k,
        "baseline-fast",
    )


def verify_scenarios(bench: Bench, project: Path, n: int) -> None:
    """Every ``--verify`` measurement for one project of ``n`` applied venvs."""
    listing = record_files(bench, project, n)
    plan_verify(bench, project, n)
    read_files_once(bench, listing, n)
    pip_check(bench, project, n)


# ---- issue 20: jobs, stage profile, the realistic row -----------------------------------------


def cold_apply_jobs(bench: Bench, project: Path, jobs: int) -> Sample:
    """``apply --installer uv --jobs N`` of the 20 venvs from nothing (to choose the default)."""
    return cold_apply(bench, project, "uv", jobs1=False, jobs=jobs, kind="apply-uv-jobs")


def stage_profile(
    bench: Bench, project: Path, installer: str, jobs: int, runs: int = 3
) -> dict[str, object]:
    """Cold ``apply`` with ``RECONCILER_PROFILE``: seconds per stage (per venv and in total),
    median over ``runs`` runs, beside the whole process's wall time."""
    profile_file = bench.root / "profile.jsonl"
    per_run: list[dict[str, float]] = []
    walls: list[float] = []
    venvs = 0
    for _ in range(runs):
        shutil.rmtree(project / ".venvs", ignore_errors=True)
        profile_file.unlink(missing_ok=True)
        args: list[str | Path] = ["apply", "--installer", installer, "--jobs", str(jobs)]
        env = {**bench.env, "RECONCILER_PROFILE": str(profile_file)}
        started = time.perf_counter()
        measure.run([str(c) for c in bench.rec(project, *args)], env=env)
        walls.append(time.perf_counter() - started)
        totals: dict[str, float] = {}
        plugins: set[str] = set()
        for line in profile_file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["plugin"] != "apply":
                plugins.add(record["plugin"])
            key = record["stage"]
            if key.startswith("step "):
                continue  # a step's whole time overlaps its stages
            totals[key] = totals.get(key, 0.0) + float(record["seconds"])
        venvs = len(plugins)
        per_run.append(totals)
    keys = sorted({k for run in per_run for k in run})

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    stages = {k: round(median([run.get(k, 0.0) for run in per_run]), 4) for k in keys}
    wall = median(walls)
    inside = stages.get("steps", 0.0) + stages.get("clean leftovers", 0.0)
    return {
        "project": project.name,
        "installer": installer,
        "jobs": jobs,
        "venvs": venvs,
        "wall_s": round(wall, 3),
        "stages_s": stages,
        "outside_apply_s": round(wall - inside, 3),  # start-up, imports, the plan, the lock
    }


def realistic_project(bench: Bench) -> tuple[Path, realistic.Realistic]:
    """The realistic project (locked with ``reconciler lock``) and its fixtures."""
    real = realistic.ensure(bench.root / "real")
    project = bench.project("real")
    project.mkdir(parents=True, exist_ok=True)
    toml = project / "reconciler.toml"
    text = realistic.toml_text(real, bench.python)
    if not toml.is_file() or toml.read_text(encoding="utf-8") != text:
        toml.write_text(text, encoding="utf-8")
    bench.run(bench.rec(project, "lock", "--resolver", "uv"))
    bench.lock_check(project)
    return project, real


def realistic_apply(bench: Bench, project: Path, jobs: int | None = None) -> Sample:
    """Cold ``apply --installer uv`` of the realistic project (default jobs, or ``jobs``)."""
    args: list[str | Path] = ["apply", "--installer", "uv"]
    if jobs is not None:
        args += ["--jobs", str(jobs)]

    key = "apply.cold.real.uv." + ("default" if jobs is None else f"jobs{jobs}")
    sample = bench.measure_ab(
        key,
        "reconciler apply --installer uv of the realistic plugins (MB wheels, sdist, git), "
        "from nothing" + ("" if jobs is None else f", --jobs {jobs}"),
        _cold_trial(bench, project, args),
        "apply-uv",
        args,
    )
    if sample.error is None and bench.plan_exit(project) != 0:
        sample.error = "plan shows changes after the cold apply"
    return sample


def realistic_uv_loop(bench: Bench, project: Path, real: realistic.Realistic) -> Sample:
    """The hand loop on the same locks: ``uv venv`` + ``uv pip sync lock`` per plugin."""
    names = sorted(real.requirements())
    base = bench.root / "baseline" / "real-uv"

    def step(name: str) -> None:
        venv = base / name
        bench.run([bench.uv, "venv", "--no-config", "--quiet", "--python", bench.python, venv])
        bench.run(_uv_sync(bench, venv, real.wheels, project / "lock" / f"{name}.txt"))

    trial = _fresh_loop(base, names, step)

    return _loop_sample(
        bench,
        "baseline.cold.real.uv-loop",
        "sequential `uv venv` + `uv pip sync lock` per realistic plugin, warm uv cache",
        trial,
        len(names),
        len(names),
        "baseline-fast",
    )


def realistic_uv_parallel(
    bench: Bench, project: Path, real: realistic.Realistic, at_a_time: int, *, copy: bool = False
) -> Sample:
    """The floor of the hand loop on this machine: the same ``uv venv`` + ``uv pip sync lock``
    per plugin, ``at_a_time`` plugins at once (a thread each starting the two processes).
    With ``copy`` each venv is a copy of one ``uv venv`` made beforehand, untimed (no venv
    process per plugin, as reconciler makes them; the copy's own time is counted)."""
    names = sorted(real.requirements())
    kind = f"par{at_a_time}" + ("-copy" if copy else "")
    base = bench.root / "baseline" / f"real-uv-{kind}"
    template = bench.root / "baseline" / "real-uv-template" / "venv"
    if copy and not (template / "pyvenv.cfg").is_file():
        shutil.rmtree(template.parent, ignore_errors=True)
        template.parent.mkdir(parents=True)
        bench.run([bench.uv, "venv", "--no-config", "--quiet", "--python", bench.python, template])

    def step(name: str) -> None:
        venv = base / name
        if copy:
            shutil.copytree(template, venv, symlinks=True)
        else:
            bench.run([bench.uv, "venv", "--no-config", "--quiet", "--python", bench.python, venv])
        bench.run(_uv_sync(bench, venv, real.wheels, project / "lock" / f"{name}.txt"))

    def trial() -> float:
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(at_a_time) as pool:
            list(pool.map(step, names))  # re-raises the first failure
        return time.perf_counter() - started

    venvs = "copied venvs" if copy else "`uv venv`"
    return _loop_sample(
        bench,
        f"baseline.cold.real.uv-{kind}",
        f"parallel hand uv, {at_a_time} at a time: {venvs} + `uv pip sync lock` per realistic "
        "plugin, warm uv cache",
        trial,
        len(names),
        len(names),
        "baseline-fast",
    )


def realistic_plan(bench: Bench, project: Path) -> Sample:
    """``reconciler plan`` of the realistic project with no venvs: the start-up, imports and
    plan a cold apply pays before its first installer call (timed beside the old reconciler's,
    as every reconciler row)."""
    return bench.measure_ab(
        "plan.cold.real",
        "reconciler plan of the realistic project, no venvs (start-up + plan of a cold apply)",
        _cold_trial(bench, project, ["plan"]),
        "fast",
        ["plan"],
    )


def realistic_meltano(bench: Bench, real: realistic.Realistic) -> Sample | None:
    """``meltano install`` (uv backend) of the same realistic plugins, cold."""
    if not MELTANO_BIN.exists():
        return None
    project = bench.root / "baseline" / "meltano-real"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "meltano.yml").write_text(realistic.meltano_yml(real), encoding="utf-8")
    env = _meltano_env(bench)

    def cold() -> Run:
        shutil.rmtree(project / ".meltano", ignore_errors=True)
        return measure.run([MELTANO_BIN, "install"], env=env, cwd=project)

    return bench.measure(
        "baseline.cold.real.meltano-install",
        "`meltano install` of the realistic plugins (uv backend), cold",
        cold,
        "baseline-fast",
    )
