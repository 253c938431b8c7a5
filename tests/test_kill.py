"""SIGKILL at random moments during apply (DESIGN.md section 5, "a kill at any moment").

An 11-plugin project is brought to a varying starting state (fresh; locks switched so every
venv needs an in-place upgrade; markers corrupted, a venv deleted and a stray package added so
reinstalls, creates and upgrades mix; plugins undeclared so venvs are removed), then ``apply``
is started and its whole process group is killed with SIGKILL after a seeded random delay in
``[0, typical apply duration]``. After each kill:

* every venv that worked before still works -- or is gone because it was being removed, or is
  an interrupted in-place upgrade that its marker (``upgrading``) and the next plan report;
* a venv that did not exist before is absent or works;
* ``plan --json`` lists exactly the work that is left (judged from the disk by this test);
* the next apply converges (``No changes.``) and leaves no stray generation behind.

``KILL_ITERATIONS`` sets the number of kills (default 8, 4 on CI; ``make kill-test`` runs 30) and
``KILL_SEED`` the seed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from conftest import (
    EXTRA_PLUGINS,
    MANY_PLUGINS,
    MARKER,
    WHEELS,
    Project,
    copy_example,
    copy_locks_to_extra_plugins,
    hermetic_environ,
    run_cli,
)
from helpers import built_once, in_ci

#: Kills per test: ``KILL_ITERATIONS``, else 8 (4 on CI, whose 2 cores run the whole suite).
ITERATIONS = int(os.environ.get("KILL_ITERATIONS") or (4 if in_ci() else 8))
SEED = int(os.environ.get("KILL_SEED", "20240611"))
KINDS = ("fresh", "switch-locks", "damage", "remove")
#: The second lock set: every example plugin moves, so switching sets upgrades every venv.
VARIANT_B = {
    "tap-alpha": ["tap-alpha==1.1.0"],
    "tap-beta": ["tap-beta", "demo-extra<2"],
    "target-gamma": ["target-gamma", "demo-common>=1.1"],
}


@dataclass(frozen=True)
class LockSet:
    """A ``reconciler.toml`` declaring all 11 plugins and the matching ``lock/`` files."""

    toml: str
    locks: dict[str, str]

    def pins(self, plugin: str) -> dict[str, str]:
        """``{canonical name: version}`` pinned by the plugin's lock."""
        pins = {}
        for line in self.locks[f"{plugin}.txt"].splitlines():
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
            if match:
                pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
        return pins


def _read_lockset(project: Project) -> LockSet:
    return LockSet(
        toml=project.toml.read_text(encoding="utf-8"),
        locks={p.name: p.read_text(encoding="utf-8") for p in (project.root / "lock").iterdir()},
    )


@pytest.fixture(scope="module")
def locksets(
    many_locked_template: Project, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path
) -> dict[str, LockSet]:
    """Lock set ``A`` (the example's requirements) and ``B`` (:data:`VARIANT_B`, locked once per
    run: the xdist workers share it)."""
    env = hermetic_environ(cache_dir)

    def lock_b(directory: Path) -> None:
        variant = copy_example(directory / "example")
        with variant.edit() as doc:
            for name, requirements in VARIANT_B.items():
                doc["plugins"][name]["requirements"] = requirements
        result = run_cli(variant.root, "lock", env=env)
        assert result.code == 0, result.describe()
        shutil.copy2(many_locked_template.toml, variant.toml)
        with variant.edit() as doc:
            for name, base in MANY_PLUGINS.items():
                doc["plugins"][name]["requirements"] = VARIANT_B[base]
        copy_locks_to_extra_plugins(variant)
        result = run_cli(variant.root, "lock", "--check", env=env)
        assert result.code == 0, result.describe()

    variant = Project(built_once(tmp_path_factory, "kill-b", lock_b) / "example")
    return {"A": _read_lockset(many_locked_template), "B": _read_lockset(variant)}


def use(project: Project, lockset: LockSet, drop: tuple[str, ...] = ()) -> None:
    """Make ``lockset`` the desired state, with the plugins ``drop`` undeclared."""
    document = tomlkit.parse(lockset.toml)
    for name in drop:
        del document["plugins"][name]
    project.toml.write_text(tomlkit.dumps(document), encoding="utf-8")
    lock_dir = project.root / "lock"
    shutil.rmtree(lock_dir, ignore_errors=True)
    lock_dir.mkdir()
    for name, text in lockset.locks.items():
        (lock_dir / name).write_text(text, encoding="utf-8")


def declared(project: Project) -> set[str]:
    """The plugins ``reconciler.toml`` declares right now."""
    return set(tomlkit.parse(project.toml.read_text(encoding="utf-8"))["plugins"])


def script_works(project: Project, plugin: str) -> bool:
    """The plugin's console script, run through the stable path, exits 0."""
    exe = project.venv(plugin) / "bin" / MANY_PLUGINS[plugin]
    if not os.path.lexists(exe):
        return False
    with contextlib.suppress(OSError):
        done = subprocess.run([str(exe)], capture_output=True, check=False, timeout=60)
        return done.returncode == 0 and done.stdout.startswith(MANY_PLUGINS[plugin].encode())
    return False


def read_marker(project: Project, plugin: str) -> dict[str, Any] | None:
    """The stable path's state marker, or None when missing or unreadable."""
    try:
        data = json.loads((project.venv(plugin) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed(project: Project, plugin: str) -> dict[str, str] | None:
    """``{canonical name: version}`` from the venv's ``*.dist-info`` (None if unreadable)."""
    sites = list(project.venv(plugin).glob("lib/python3*/site-packages"))
    if len(sites) != 1:
        return None
    found = {}
    for entry in sites[0].glob("*.dist-info"):
        name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    for bootstrap in ("pip", "setuptools", "wheel"):
        found.pop(bootstrap, None)
    return found


def is_done(project: Project, plugin: str, lockset: LockSet) -> bool:
    """Judged from the disk alone: the plugin's venv is complete and matches its lock."""
    stable = project.venv(plugin)
    if not stable.is_symlink() or not stable.is_dir():
        return False
    marker = read_marker(project, plugin)
    if marker is None or marker.get("status") != "complete" or marker.get("plugin") != plugin:
        return False
    return installed(project, plugin) == lockset.pins(plugin)


def stray_generations(project: Project) -> dict[str, list[str]]:
    """Generation directories that are not the live one of their plugin."""
    root = project.venv_root / ".generations"
    found: dict[str, list[str]] = {}
    for plugin in sorted(os.listdir(root)) if root.is_dir() else []:
        stable = project.venv(plugin)
        live = (
            Path(os.path.normpath(root.parent / stable.readlink())).name
            if (stable.is_symlink())
            else None
        )
        extra = [g for g in sorted(os.listdir(root / plugin)) if g != live]
        if extra:
            found[plugin] = extra
    return found


def prepare(
    project: Project, kind: str, current: str, sets: dict[str, LockSet], rng: random.Random
) -> str:
    """Bring the (converged) project to the starting state ``kind``; return the lock set used."""
    if kind == "fresh":
        shutil.rmtree(project.venv_root, ignore_errors=True)
        use(project, sets[current])
    elif kind == "switch-locks":
        current = "B" if current == "A" else "A"
        use(project, sets[current])
    elif kind == "damage":
        use(project, sets[current])  # re-declares anything a "remove" round dropped
        present = sorted(p for p in MANY_PLUGINS if project.venv(p).is_symlink())
        picked = rng.sample(present, min(5, len(present)))
        for plugin in picked[:3]:
            (project.venv(plugin) / MARKER).write_text("{ corrupt", encoding="utf-8")
        if len(picked) > 3:
            stable = project.venv(picked[3])
            shutil.rmtree(project.venv_root / ".generations" / picked[3])
            stable.unlink()
        if len(picked) > 4:
            project.hand_pip(
                picked[4],
                "install",
                "--no-deps",
                "--no-index",
                str(WHEELS / "demo_stray-1.0.0-py3-none-any.whl"),
            )
    else:
        use(project, sets[current], drop=tuple(rng.sample(sorted(EXTRA_PLUGINS), 3)))
    return current


def start_apply(project: Project) -> subprocess.Popen[bytes]:
    """``reconciler apply`` in a new process group (so a kill takes its installers too)."""
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--project", str(project.root), "apply"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
        start_new_session=True,
    )


def kill_after(proc: subprocess.Popen[bytes], delay: float, started: float) -> float | None:
    """SIGKILL the process group ``delay`` s after ``started``; None when it was killed, else
    how long apply took to finish on its own."""
    deadline = started + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return time.monotonic() - started
        time.sleep(min(0.005, max(deadline - time.monotonic(), 0)))
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return None if proc.returncode == -signal.SIGKILL else delay


@pytest.mark.slow
def test_sigkill_during_apply_leaves_every_venv_old_or_new(
    many_project: Project, locksets: dict[str, LockSet]
) -> None:
    """Kill -9 at random moments: venvs old-or-new, plan lists the rest, apply converges."""
    project = many_project
    rng = random.Random(SEED)  # noqa: S311 - reproducible timing, not cryptography
    current = "A"
    use(project, locksets[current])
    started = time.monotonic()
    project.ok("apply", subprocess=True)  # timed as the killed runs start: a real process
    # A typical apply's duration, per kind of starting state: first the full create just timed,
    # then whatever an apply of that kind took when it finished before its kill.
    typical = dict.fromkeys(KINDS, time.monotonic() - started)
    log: list[str] = []

    for iteration in range(ITERATIONS):
        kind = KINDS[iteration % len(KINDS)]
        current = prepare(project, kind, current, locksets, rng)
        lockset = locksets[current]
        wanted = declared(project)
        planned = {c["plugin"]: c["action"] for c in project.plan_json()["changes"]}
        assert any(a != "no-op" for a in planned.values()), f"{kind}: nothing to do"
        worked = {p for p in MANY_PLUGINS if script_works(project, p)}

        delay = rng.uniform(0, typical[kind])
        started = time.monotonic()
        finished = kill_after(start_apply(project), delay, started)
        if finished is not None:
            typical[kind] = finished
        outcome = "killed" if finished is None else f"finished in {finished:.3f}s"
        log.append(f"#{iteration} {kind} set={current} kill@{delay:.3f}s: {outcome}")
        context = "\n".join(log)

        result = project.run("plan", "--json")
        assert result.code == 0, f"{context}\n{result.describe()}"
        actions = {c["plugin"]: c["action"] for c in json.loads(result.out)["changes"]}
        for plugin in MANY_PLUGINS:
            if script_works(project, plugin):
                continue
            exists = os.path.lexists(project.venv(plugin))
            marker = read_marker(project, plugin) or {}
            if plugin in worked:
                removed = plugin not in wanted and not exists
                upgrading = marker.get("status") == "upgrading" and actions.get(plugin) in (
                    "reinstall",
                    "upgrade",
                )
                assert removed or upgrading, f"{context}\n{plugin} worked before the kill, not now"
            else:
                assert not exists, f"{context}\n{plugin}: new venv exists but does not work"

        remaining = {p for p in wanted if not is_done(project, p, lockset)}
        remaining |= {
            p for p in MANY_PLUGINS if p not in wanted and os.path.lexists(project.venv(p))
        }
        listed = {p for p, action in actions.items() if action != "no-op"}
        assert listed == remaining, (
            f"{context}\nplan lists {sorted(listed)}, the disk says {sorted(remaining)} remain"
        )
        for plugin in wanted:
            if not os.path.lexists(project.venv(plugin)):
                assert actions[plugin] == "create", f"{context}\n{plugin}: {actions[plugin]}"

        project.ok("apply")
        converged = project.ok("plan", "--detailed-exitcode")
        assert "No changes." in converged.out, f"{context}\n{converged.describe()}"
        for plugin in wanted:
            assert script_works(project, plugin), f"{context}\n{plugin} broken after converging"
        if listed:  # the converging apply had work, so it also cleaned the killed run's debris
            assert not stray_generations(project), f"{context}\n{stray_generations(project)}"

    final = project.ok("apply")
    assert "No changes." in final.out, final.describe()
    print("\n".join(log))  # shown with -s: which moments were hit


def keep_one_generation(project: Project) -> None:
    """``settings.keep-generations = 1`` (not an input of any lock: they stay fresh)."""
    document = tomlkit.parse(project.toml.read_text(encoding="utf-8"))
    document["settings"]["keep-generations"] = 1
    project.toml.write_text(tomlkit.dumps(document), encoding="utf-8")


@pytest.mark.slow
def test_sigkill_during_upgrades_with_kept_generations_is_old_or_new(
    many_project: Project, locksets: dict[str, LockSet]
) -> None:
    """With keep-generations = 1 an upgrade is a new generation flipped atomically: a kill at
    any moment leaves every venv working on exactly its old pins or its new ones, never half
    upgraded; then apply converges and rollback restores the pins of the generation before."""
    project = many_project
    rng = random.Random(SEED + 1)  # noqa: S311 - reproducible timing, not cryptography
    current = "A"
    use(project, locksets[current])
    keep_one_generation(project)
    project.ok("apply")
    started = time.monotonic()
    use(project, locksets["B"])
    keep_one_generation(project)
    # a full upgrade round, timed (as a real process, like the killed runs): the kills' range
    project.ok("apply", subprocess=True)
    typical = time.monotonic() - started
    current = "B"
    log: list[str] = []

    for iteration in range(max(2, ITERATIONS // 2)):
        previous, current = current, ("B" if current == "A" else "A")
        use(project, locksets[current])
        keep_one_generation(project)
        planned = {c["plugin"]: c["action"] for c in project.plan_json()["changes"]}
        assert set(planned.values()) == {"upgrade"}, planned

        delay = rng.uniform(0, typical)
        begun = time.monotonic()
        finished = kill_after(start_apply(project), delay, begun)
        outcome = "killed" if finished is None else f"finished in {finished:.3f}s"
        log.append(f"#{iteration} {previous}->{current} kill@{delay:.3f}s: {outcome}")
        context = "\n".join(log)

        left = set()
        for plugin in MANY_PLUGINS:
            assert script_works(project, plugin), f"{context}\n{plugin} broken after the kill"
            marker = read_marker(project, plugin) or {}
            assert marker.get("status") == "complete", f"{context}\n{plugin}: {marker}"
            pins = installed(project, plugin)
            old, new = locksets[previous].pins(plugin), locksets[current].pins(plugin)
            assert pins in (old, new), f"{context}\n{plugin} is half upgraded: {pins}"
            if pins == old:
                left.add(plugin)
        result = project.run("plan", "--json")
        assert result.code == 0, f"{context}\n{result.describe()}"
        listed = {c["plugin"] for c in json.loads(result.out)["changes"] if c["action"] != "no-op"}
        assert listed == left, f"{context}\nplan lists {sorted(listed)}, left {sorted(left)}"

        project.ok("apply")
        assert "No changes." in project.ok("plan").out, context
        for plugin in MANY_PLUGINS:
            generations = os.listdir(project.venv_root / ".generations" / plugin)
            assert len(generations) <= 2, f"{context}\n{plugin}: {generations}"

    plugin = "tap-beta-2"
    before = installed(project, plugin)
    project.ok("rollback", plugin)
    after = installed(project, plugin)
    assert after != before
    other = "B" if current == "A" else "A"
    assert after == locksets[other].pins(plugin), "rollback restores the previous pins"
    assert script_works(project, plugin)
    print("\n".join(log))  # shown with -s: which moments were hit
