"""The same-run A/B of issue 20's "nothing else in the bench gets slower".

The reconciler of an earlier commit (``--ab-ref``, default the commit issue 20 was filed at) is
built into its own venv under ``build/bench/ref/<commit>/``: ``git archive`` of that commit, a
wheel built from it without build isolation by the dev venv (offline), and a non-editable
install of that wheel plus the same hashed runtime lock the dev venv holds
(``lock/requirements-uv.txt``, byte-compiled), by uv from its cache (offline; PyPI only if the
cache lacks a wheel). Every reconciler row of the bench then times that old reconciler on the same
project and state, interleaved with the new one (:func:`measure.repeat_ab`), and
:func:`verdicts` compares the medians.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import measure
from measure import BenchError, Sample

#: The commit issue 20 was filed at: the default "old" reconciler of the A/B.
DEFAULT_REF = "6c56c1d"
#: Slower means beyond noise: new > old * (1 + SLOWER_RATIO) and new > old + SLOWER_ABS seconds.
SLOWER_RATIO = 0.10
SLOWER_ABS = 0.010
#: Bump when the way the old venv is built changes (it is rebuilt then).
BUILD_SPEC = 1


@dataclass
class Side:
    """One reconciler of the A/B: its console script, interpreter and child environment."""

    label: str  # "new" or the short commit of the old one
    reconciler: Path
    python: Path
    env: dict[str, str]
    commit: str = ""
    #: project -> the project this side's rows run on (old side: see Bench.state_for)
    projects: dict[Path, Path] = field(default_factory=dict)
    #: projects this side has applied (or found current) in this run
    applied: set[Path] = field(default_factory=set)
    _help: dict[str, str] = field(default_factory=dict)

    def missing_option(self, args: Sequence[str | os.PathLike[str]]) -> str | None:
        """The first option of ``args`` (``SUBCOMMAND --opt ...``) this reconciler's
        ``SUBCOMMAND --help`` does not list, or None when it takes them all."""
        words = [str(a) for a in args]
        if not words:
            return None
        command = words[0]
        if command not in self._help:
            out = measure.run(
                [self.reconciler, command, "--help"], env=self.env, ok=(0, 1, 2), capture=True
            )
            self._help[command] = out.output if out.returncode == 0 else ""
        if not self._help[command]:
            return command
        for word in words[1:]:
            option = word.split("=", 1)[0]
            if option.startswith("-") and not re.search(
                rf"(?<![\w-]){re.escape(option)}(?![\w-])", self._help[command]
            ):
                return f"{command} {option}"
        return None


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


def resolve_ref(repo: Path, ref: str) -> str:
    """The full commit of ``ref``; :class:`BenchError` saying why not (no git, shallow clone,
    unknown ref)."""
    try:
        found = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except OSError as exc:
        raise BenchError(f"git is not available ({exc.strerror})") from exc
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    inside = _git(repo, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise BenchError(f"{repo} is not a git checkout, so commit {ref} cannot be built")
    shallow = _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if shallow:
        raise BenchError(
            f"commit {ref} is not in this shallow clone's history "
            f"(`git fetch --unshallow` brings it)"
        )
    raise BenchError(f"{ref} is not a commit of this repository")


def _uv_env(base: dict[str, str]) -> dict[str, str]:
    """The environment of the build's uv calls: no uv settings but the cache of `make dev`
    (uv's default cache, or the one ``UV_CACHE_DIR`` names), so the hashed wheels are there."""
    env = {k: v for k, v in base.items() if not k.startswith(("UV_", "PIP_", "VIRTUAL_ENV"))}
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env["UV_NO_CONFIG"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def build(
    repo: Path,
    ref: str | None,
    root: Path,
    *,
    python: str,
    dev_bin: Path,
    bench_env: dict[str, str],
    log: Callable[[str], None],
) -> Side:
    """A reconciler installed in a venv of its own, built once and then reused while its
    sources, the interpreter and the runtime lock stay the same: the old one of commit ``ref``
    (``root/ref/<commit>/venv``), or with ``ref=None`` the new one, the working tree as it is,
    uncommitted changes included (``root/new/venv``). Both are installed alike, so the two
    sides of the A/B differ in reconciler's code only, and neither pays the dev venv's
    editable-install import hook.

    Raises :class:`BenchError` with the reason when it cannot be built.
    """
    if ref is None:
        side, key, unpack = _tree(repo, root, bench_env)
        what = "the working tree"
    else:
        side, key, unpack = _commit(repo, ref, root, bench_env)
        what = f"reconciler {side.label} ({ref})"
    _install(repo, side.python.parent.parent.parent, key, unpack, side, what, python, dev_bin, log)
    return side


def _commit(
    repo: Path, ref: str, root: Path, bench_env: dict[str, str]
) -> tuple[Side, dict[str, str], Callable[[Path], None]]:
    """The old side of ``ref``: its venv, build key and source writer (``git archive``)."""
    commit = resolve_ref(repo, ref)
    dest = root / "ref" / commit[:12]
    cache = root / "cache" / f"reconciler-{commit[:12]}"
    side = Side(
        label=commit[:7],
        reconciler=dest / "venv" / "bin" / "reconciler",
        python=dest / "venv" / "bin" / "python",
        env={**bench_env, "RECONCILER_CACHE_DIR": str(cache)},
        commit=commit,
    )

    def unpack(src: Path) -> None:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise BenchError(f"git archive {commit[:12]} failed: {archive.stderr.decode()[-300:]}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(src, filter="data")

    return side, {"commit": commit}, unpack


#: What a wheel of the working tree is built from besides ``reconciler/`` (only the first is
#: in the build key: the others are metadata, so editing them rebuilds nothing).
TREE_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")


def _tree(
    repo: Path, root: Path, bench_env: dict[str, str]
) -> tuple[Side, dict[str, str], Callable[[Path], None]]:
    """The new side: its venv, build key (a digest of every file of ``reconciler/`` and
    ``pyproject.toml``) and source writer (a copy of those and of :data:`TREE_FILES`)."""
    files = sorted(
        path
        for path in (repo / "reconciler").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    files += [repo / TREE_FILES[0]]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes() + b"\0")
    files += [repo / name for name in TREE_FILES[1:] if (repo / name).is_file()]
    dest = root / "new"
    side = Side(
        label="new",
        reconciler=dest / "venv" / "bin" / "reconciler",
        python=dest / "venv" / "bin" / "python",
        env=bench_env,
        commit="working tree",
    )

    def copy(src: Path) -> None:
        for path in files:
            target = src / path.relative_to(repo)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)

    return side, {"tree_sha256": digest.hexdigest()}, copy


def _install(
    repo: Path,
    dest: Path,
    key: dict[str, str],
    unpack: Callable[[Path], None],
    side: Side,
    what: str,
    python: str,
    dev_bin: Path,
    log: Callable[[str], None],
) -> None:
    """Build and install ``side`` in ``dest/venv`` from the sources ``unpack(dir)`` writes,
    unless ``dest/stamp.json`` records the same ``key``, interpreter and runtime lock."""
    lock = repo / "lock" / "requirements-uv.txt"
    try:
        lock_text = lock.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read {lock}: {exc.strerror}") from exc
    venv, stamp = dest / "venv", dest / "stamp.json"
    full_key = {
        "spec": BUILD_SPEC,
        **key,
        "python": python,
        "lock_sha256": hashlib.sha256(lock_text).hexdigest(),
    }
    try:
        built = json.loads(stamp.read_text(encoding="utf-8")) == full_key
    except (OSError, ValueError):
        built = False
    if built and side.reconciler.is_file():
        log(f"  reusing {what} in {venv}")
        return
    log(f"  building {what} into {venv} ...")
    shutil.rmtree(dest, ignore_errors=True)
    src, dist = dest / "src", dest / "dist"
    src.mkdir(parents=True)
    unpack(src)
    quiet_env = {**_uv_env(side.env), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # the wheel: built by the dev venv's setuptools (no build isolation, so nothing is fetched)
    measure.run(
        [
            dev_bin / "python",
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            dist,
            src,
        ],
        env={**quiet_env, "PIP_CONFIG_FILE": os.devnull},
    )
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise BenchError(f"expected one wheel of {what} in {dist}, found {len(wheels)}")
    uv = dev_bin / "uv"
    measure.run([uv, "venv", "--no-config", "--quiet", "--python", python, venv], env=quiet_env)
    install: list[str | Path] = [
        uv,
        "pip",
        "install",
        "--no-config",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        "--require-hashes",
        "--no-deps",
        "--compile-bytecode",
        "-r",
        lock,
    ]
    try:
        measure.run([*install, "--offline"], env=quiet_env)
    except BenchError as exc:
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        log(f"  offline install of {lock.name} from uv's cache failed ({last}); trying PyPI")
        measure.run([*install, "--index-url", "https://pypi.org/simple"], env=quiet_env)
    measure.run(
        [
            uv,
            "pip",
            "install",
            "--no-config",
            "--quiet",
            "--offline",
            "--no-deps",
            "--compile-bytecode",
            "--python",
            venv / "bin" / "python",
            wheels[0],
        ],
        env=quiet_env,
    )
    version = measure.run([side.reconciler, "--version"], env=side.env, capture=True).output
    shutil.rmtree(src, ignore_errors=True)
    stamp.write_text(json.dumps(full_key, indent=2) + "\n", encoding="utf-8")
    log(f"  built {version.strip() or 'reconciler'} of {what}")


@dataclass(frozen=True)
class Verdict:
    """One row of the A/B table."""

    key: str
    scenario: str
    new: float | None
    old: float | None
    new_runs: int
    old_runs: int
    verdict: str  # "same", "faster", "SLOWER", "new: <why>" (not in the old) or "n/a: <why>"

    @property
    def ratio(self) -> float | None:
        """new / old (above 1: the new reconciler takes longer)."""
        return self.new / self.old if self.new and self.old else None

    def to_json(self) -> dict[str, object]:
        """The row as a dict."""
        return {
            "key": self.key,
            "scenario": self.scenario,
            "new_s": self.new,
            "old_s": self.old,
            "new_over_old": self.ratio,
            "new_runs": self.new_runs,
            "old_runs": self.old_runs,
            "verdict": self.verdict,
        }


def judge(new: float, old: float) -> str:
    """``SLOWER`` beyond noise (both margins), ``faster`` beyond the same margins, else
    ``same``."""
    if new > old * (1 + SLOWER_RATIO) and new > old + SLOWER_ABS:
        return "SLOWER"
    if old > new * (1 + SLOWER_RATIO) and old > new + SLOWER_ABS:
        return "faster"
    return "same"


def verdicts(
    samples: dict[str, Sample],
    rows: Sequence[tuple[str, str]],
    skipped: dict[str, str],
    absent: dict[str, str],
) -> list[Verdict]:
    """One verdict per ``(key, scenario)`` measured in this run (``old.<key>`` beside
    ``<key>``); ``skipped`` says why a key has no old side, ``absent`` which keys time an
    option the old reconciler does not have (``new``: nothing there to get slower)."""
    out = []
    for key, scenario in rows:
        new, old = samples.get(key), samples.get(f"old.{key}")
        if new is None:
            continue  # not measured in this mode
        new_value = new.median if new.error is None else None
        old_value = old.median if old is not None and old.error is None else None
        if key in absent:
            verdict = f"new: {absent[key]}"
        elif new_value is None:
            verdict = f"n/a: new side failed ({_first(new.error)})"
        elif old is None:
            verdict = f"n/a: {skipped.get(key, 'old side not measured')}"
        elif old_value is None:
            verdict = f"n/a: old side failed ({_first(old.error)})"
        else:
            verdict = judge(new_value, old_value)
        out.append(
            Verdict(
                key,
                scenario,
                new_value,
                old_value,
                len(new.seconds),
                len(old.seconds) if old is not None else 0,
                verdict,
            )
        )
    return out


def overall(rows: Sequence[Verdict]) -> str:
    """``NO`` when a row is slower; ``yes`` when none is and every row the old reconciler can
    run was compared; else ``incomplete``."""
    if any(r.verdict == "SLOWER" for r in rows):
        return "NO"
    compared = [r for r in rows if r.verdict in ("same", "faster")]
    if compared and all(r in compared or r.verdict.startswith("new:") for r in rows):
        return "yes"
    return "incomplete"


def _first(text: str | None) -> str:
    """The line of a failure that says what went wrong (a BenchError's last line: the
    command's own error; its first names the command)."""
    lines = (text or "").strip().splitlines()
    return lines[-1][:120] if lines else "error"
