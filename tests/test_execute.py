"""The fast tier of ``execute`` tests: the real planner, layout and disk, a fake installer.

:class:`helpers.FakeInstaller` builds a venv in milliseconds (``bin/python`` is the real
interpreter, dist-infos are written by hand), so these tests prove what execute itself does --
generations, markers, the flip, rollback on failure, stop requests, a kill between two writes
-- without pip or uv. The same guarantees with real venvs are proven end to end in
``test_safety.py`` and ``test_kill.py`` (kept: they also cover the real installers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    EXPECTED_DISTS,
    MARKER,
    PLUGINS,
    FakeInstaller,
    Project,
    dist_infos,
)

from reconciler.apply import execute
from reconciler.commands.project import compute_plan, load_project
from reconciler.models import Action, Plan
from reconciler.support import scratch
from reconciler.support.values import evolve

GENERATIONS = ".generations"


def plan_of(project: Project) -> Plan:
    """What ``reconciler plan`` would compute for ``project`` (in this process)."""
    return compute_plan(load_project(project.root))


def run_execute(
    project: Project,
    installer: FakeInstaller,
    *,
    stop: threading.Event | None = None,
    log: Callable[[str, str], None] | None = None,
) -> tuple[Plan, execute.ApplyResult]:
    """Plan ``project`` and carry the plan out with ``installer`` (what ``apply`` does, minus
    the CLI and the root's lock)."""
    loaded = load_project(project.root)
    plan = compute_plan(loaded)
    with scratch.session(loaded.desired.layout.root):
        result = execute.apply_plan(
            plan, loaded.desired.layout, installer, log or (lambda _p, _m: None), stop=stop
        )
    return plan, result


def actions(plan: Plan) -> dict[str, Action]:
    """``{plugin: action}`` of every step that changes something."""
    return {step.plugin: step.action for step in plan.changes}


def generations(project: Project, plugin: str) -> list[str]:
    """Names under ``.venvs/.generations/<plugin>``, sorted."""
    directory = project.venv_root / GENERATIONS / plugin
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def live(project: Project, plugin: str) -> Path:
    """The generation ``.venvs/<plugin>`` points at (which must be one)."""
    stable = project.venv(plugin)
    assert stable.is_symlink(), f"{stable} is not a link into the generations"
    target = Path(os.path.realpath(stable))
    assert target.parent == project.venv_root / GENERATIONS / plugin, target
    return target


def assert_built(project: Project, plugin: str) -> None:
    """The plugin's live generation is complete and holds exactly its locked dists."""
    generation = live(project, plugin)
    assert project.marker(plugin)["status"] == "complete"
    assert project.marker(plugin)["built_at"] == str(generation)
    assert dist_infos(project.site_packages(plugin)) == EXPECTED_DISTS[plugin]


def test_create_builds_one_generation_per_plugin_and_converges(project: Project) -> None:
    installer = FakeInstaller()
    plan, result = run_execute(project, installer)
    assert actions(plan) == dict.fromkeys(PLUGINS, Action.CREATE)
    assert result.failed == ()
    assert result.count(Action.CREATE) == len(PLUGINS)
    for plugin in PLUGINS:
        assert_built(project, plugin)
        assert generations(project, plugin) == [live(project, plugin).name]
    # each venv: marker first, then create, then install; nothing uninstalled
    assert sorted(installer.calls) == sorted(
        (op, p) for p in PLUGINS for op in ("create_venv", "install")
    )
    assert actions(plan_of(project)) == {}  # a second plan has nothing to do


def test_failed_install_on_create_leaves_nothing_and_the_others_finish(project: Project) -> None:
    _, result = run_execute(project, FakeInstaller(fail={"tap-beta"}))
    [failed] = result.failed
    assert failed.step.plugin == "tap-beta"
    assert failed.error is not None
    assert failed.error.startswith("plugin 'tap-beta': "), failed.error
    assert "injected" in failed.error
    assert not os.path.lexists(project.venv("tap-beta"))
    assert generations(project, "tap-beta") == []  # the half-built generation is deleted
    for plugin in ("tap-alpha", "target-gamma"):
        assert_built(project, plugin)
    assert actions(plan_of(project)) == {"tap-beta": Action.CREATE}


def test_failed_reinstall_keeps_the_old_venv_live(project: Project) -> None:
    run_execute(project, FakeInstaller())
    old = live(project, "tap-beta")
    (project.venv("tap-beta") / MARKER).write_text("corrupt", encoding="utf-8")
    plan, result = run_execute(project, FakeInstaller(fail={"tap-beta"}))
    assert actions(plan) == {"tap-beta": Action.REINSTALL}
    assert [r.step.plugin for r in result.failed] == ["tap-beta"]
    assert live(project, "tap-beta") == old
    assert generations(project, "tap-beta") == [old.name]
    assert actions(plan_of(project)) == {"tap-beta": Action.REINSTALL}  # still to do
    _, result = run_execute(project, FakeInstaller())
    assert result.failed == ()
    assert_built(project, "tap-beta")
    assert live(project, "tap-beta") != old
    assert generations(project, "tap-beta") == [live(project, "tap-beta").name]


def test_upgrade_in_place_uninstalls_only_the_stray(project: Project) -> None:
    run_execute(project, FakeInstaller())
    generation = live(project, "tap-alpha")
    stray = project.site_packages("tap-alpha") / "demo_stray-1.0.0.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Name: demo-stray\nVersion: 1.0.0\n", encoding="utf-8")
    installer = FakeInstaller()
    plan, result = run_execute(project, installer)
    assert actions(plan) == {"tap-alpha": Action.UPGRADE}
    assert result.failed == ()
    # no create_venv: the stray goes from the live venv (install is called with nothing to add)
    assert installer.calls == [("uninstall", "tap-alpha"), ("install", "tap-alpha")]
    assert live(project, "tap-alpha") == generation  # keep-generations = 0: in place
    assert_built(project, "tap-alpha")


def test_stop_between_steps_starts_no_new_step(project: Project) -> None:
    stop = threading.Event()

    def log(plugin: str, message: str) -> None:
        if " done in " in message:  # the first step finished: a Ctrl-C arrives now
            stop.set()

    _, result = run_execute(project, FakeInstaller(), stop=stop, log=log)
    assert result.interrupted
    done = [r.step.plugin for r in result.results if r.error is None]
    assert done == [PLUGINS[0]]
    for r in result.results[1:]:
        assert r.interrupted
        assert r.error == "interrupted before it started"
    assert_built(project, PLUGINS[0])
    for plugin in PLUGINS[1:]:
        assert not os.path.lexists(project.venv(plugin))
        assert generations(project, plugin) == []
    assert actions(plan_of(project)) == dict.fromkeys(PLUGINS[1:], Action.CREATE)


def test_stop_during_a_build_keeps_the_previous_venv_live(project: Project) -> None:
    run_execute(project, FakeInstaller())
    old = live(project, "tap-beta")
    (project.venv("tap-beta") / MARKER).write_text("corrupt", encoding="utf-8")
    stop = threading.Event()
    _, result = run_execute(
        project, FakeInstaller(before_install=lambda _plugin: stop.set()), stop=stop
    )
    [interrupted] = result.results
    assert interrupted.interrupted
    assert live(project, "tap-beta") == old
    assert generations(project, "tap-beta") == [old.name]


_KILLED_CHILD = """
import os, sys
from pathlib import Path
from helpers import FakeInstaller, Project
from test_execute import run_execute

def die(plugin):
    if plugin == sys.argv[2]:
        os._exit(137)  # like SIGKILL: no finally block, no clean-up runs

run_execute(Project(Path(sys.argv[1])), FakeInstaller(before_install=die))
"""


def _killed_during_install_of(project: Project, victim: str) -> int:
    """Run execute in a child process that dies as the install into ``victim``'s new generation
    starts (after its marker is written); return the child's exit status."""
    here = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(project.root), victim],
        cwd=project.root,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 137, done.stderr
    return done.returncode


def test_kill_between_two_writes_leaves_debris_the_next_apply_cleans(project: Project) -> None:
    victim = PLUGINS[1]
    assert _killed_during_install_of(project, victim) == 137
    assert_built(project, PLUGINS[0])  # finished before the kill: live and complete
    assert not os.path.lexists(project.venv(victim))  # never flipped
    [debris] = generations(project, victim)  # marked "building", left by the kill
    marker = (project.venv_root / GENERATIONS / victim / debris / MARKER).read_text("utf-8")
    assert '"building"' in marker
    assert actions(plan_of(project)) == {victim: Action.CREATE, PLUGINS[2]: Action.CREATE}
    removed: list[str] = []
    _, result = run_execute(
        project,
        FakeInstaller(),
        log=lambda plugin, message: removed.append(plugin) if "leftover" in message else None,
    )
    assert result.failed == ()
    assert removed == [victim]
    for plugin in PLUGINS:
        assert_built(project, plugin)
        assert generations(project, plugin) == [live(project, plugin).name]
    assert actions(plan_of(project)) == {}


def test_cleaning_passes_over_plugins_holding_only_their_live_generation(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without leftovers, apply lists each plugin's generations once and deletes nothing: no
    walls walked, no marker read (issue 20: the scan cost every upgrade ~3 ms for 20 venvs);
    a plugin with debris beside its live generation is still cleaned, walls checked first."""
    run_execute(project, FakeInstaller())
    site = project.site_packages("tap-alpha")
    (site / "demo_common-1.1.0.dist-info").rename(site / "demo_common-1.0.0.dist-info")
    debris = project.venv_root / GENERATIONS / "tap-beta" / "g00000000000000ff"
    debris.mkdir()
    (debris / MARKER).write_text('{"status": "building"}', encoding="utf-8")
    pruned: list[str] = []
    walled: list[str] = []
    real_prune, real_walls = execute.gens.prune, execute.gens.check_walls
    monkeypatch.setattr(
        execute.gens,
        "prune",
        lambda layout, p, *a, **k: pruned.append(p) or real_prune(layout, p, *a, **k),
    )
    monkeypatch.setattr(
        execute.gens, "check_walls", lambda layout, p: walled.append(p) or real_walls(layout, p)
    )
    plan, result = run_execute(project, FakeInstaller())
    assert actions(plan) == {"tap-alpha": Action.UPGRADE}
    assert result.failed == ()
    assert pruned == ["tap-beta"]  # tap-alpha and target-gamma: nothing to prune
    assert sorted(set(walled)) == ["tap-alpha", "tap-beta"]  # the step's, and before deleting
    assert not debris.exists()
    assert generations(project, "tap-beta") == [live(project, "tap-beta").name]


@pytest.mark.parametrize(
    "torn", [b"", b"\0" * 300, b'{"plugin": "tap-al'], ids=["empty", "zeros", "cut"]
)
def test_a_marker_torn_by_a_power_cut_makes_the_venv_reinstalled(
    project: Project, torn: bytes
) -> None:
    """The ``upgrading`` marker is made durable by syncing its rename only (one fsync, not
    two): after a power cut it may be there empty or torn. Such a marker never passes for a
    complete venv: the plan reinstalls it, as it would an interrupted upgrade."""
    run_execute(project, FakeInstaller())
    (project.venv("tap-beta") / MARKER).write_bytes(torn)
    assert actions(plan_of(project)) == {"tap-beta": Action.REINSTALL}


def test_an_upgrade_syncs_the_upgrading_marker_with_one_fsync(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the installer touches the live venv, its ``upgrading`` marker is durable: the
    rename synced (the directory's fsync), the content not synced on its own."""
    run_execute(project, FakeInstaller())
    site = project.site_packages("tap-alpha")
    (site / "demo_common-1.1.0.dist-info").rename(site / "demo_common-1.0.0.dist-info")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    seen: list[list[str]] = []
    installer = FakeInstaller(before_install=lambda *_: seen.append(list(synced)))
    plan, result = run_execute(project, installer)
    assert actions(plan) == {"tap-alpha": Action.UPGRADE}
    assert result.failed == ()
    assert seen == [[str(live(project, "tap-alpha"))]], seen  # the directory, once
    assert project.marker("tap-alpha")["status"] == "complete"


def test_the_syncfs_lookup_overlaps_the_install(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``syncfs`` that follows an install is looked up (ctypes imported) on a thread of its
    own started before the installer runs, not after it on the apply's path."""
    from reconciler.support import files  # noqa: PLC0415 - patched here

    monkeypatch.setattr(files, "_found", {})
    real = files._syncfs
    looked_up: list[str] = []

    def syncfs() -> Any:
        looked_up.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(files, "_syncfs", syncfs)
    _, result = run_execute(project, FakeInstaller())
    assert result.failed == ()
    assert "prepare-sync" in looked_up, looked_up  # (first, unless the machine is very busy)
    assert files._found.get("syncfs") is not None


@pytest.mark.parametrize("keep", [0, 1])
def test_keep_generations_decides_in_place_or_new_generation(project: Project, keep: int) -> None:
    with project.edit() as doc:
        doc["settings"]["keep-generations"] = keep
    run_execute(project, FakeInstaller())
    before = live(project, "tap-alpha")
    site = project.site_packages("tap-alpha")
    (site / "demo_common-1.1.0.dist-info").rename(site / "demo_common-1.0.0.dist-info")
    plan, result = run_execute(project, FakeInstaller())
    assert actions(plan) == {"tap-alpha": Action.UPGRADE}
    assert result.failed == ()
    assert_built(project, "tap-alpha")
    after = live(project, "tap-alpha")
    if keep == 0:
        assert after == before
        assert generations(project, "tap-alpha") == [before.name]
    else:
        assert after != before  # the live one is kept whole, for rollback
        assert generations(project, "tap-alpha") == sorted([before.name, after.name])


def test_parallel_steps_keep_order_all_run_and_the_first_failure_is_raised() -> None:
    """``run_all`` (apply's and lock's jobs): results in item order whatever order the items
    end in, at most ``jobs`` at once, every item runs when one raises, and the first failure
    in item order is what the caller gets."""
    from reconciler.support.jobs import run_all  # noqa: PLC0415 - the unit under test

    running, peak, seen = [0], [0], []
    guard = threading.Lock()

    def step(i: int) -> int:
        with guard:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            seen.append(i)
        threading.Event().wait(0.002 * (7 - i))  # later items end first
        with guard:
            running[0] -= 1
        if i in (5, 3):
            raise ValueError(f"item {i}")
        return i * 10

    assert run_all(step, [0, 1, 2], 3, "t") == [0, 10, 20]
    seen.clear()
    with pytest.raises(ValueError, match="item 3"):
        run_all(step, list(range(8)), 3, "t")
    assert sorted(seen) == list(range(8))
    assert peak[0] == 3


def test_parallel_jobs_start_the_likely_longest_step_first(project: Project) -> None:
    """With several jobs, a step that clones or builds a source starts first, then the steps
    with most packages (so the last to start is a short one); results stay in the plan's order
    and every step still runs."""
    from reconciler.models import LockedPackage  # noqa: PLC0415

    plan = plan_of(project)
    steps = list(plan.changes)
    assert [s.plugin for s in steps] == list(PLUGINS)
    assert execute.start_order(steps) == [1, 0, 2]  # tap-beta has 3 packages, the others 2
    git = LockedPackage.local("tap-src", "file:///src/tap-src", marker=None)
    steps[2] = evolve(steps[2], locked=(*steps[2].locked, git))
    assert execute.start_order(steps) == [2, 1, 0]

    started: list[str] = []
    installer = FakeInstaller(before_install=started.append)
    loaded = load_project(project.root)
    with scratch.session(loaded.desired.layout.root):
        result = execute.apply_plan(
            plan, loaded.desired.layout, installer, lambda _p, _m: None, jobs=3
        )
    assert [r.step.plugin for r in result.results] == list(PLUGINS)
    assert sorted(started) == sorted(PLUGINS)
    assert all(r.error is None for r in result.results)
