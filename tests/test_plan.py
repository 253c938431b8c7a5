"""The planner (DESIGN.md section 3): a pure function of desired state, locks and observed venvs."""

from __future__ import annotations

from collections import Counter

import pytest
from builders import (
    PY,
    PY_312,
    PY_OLD,
    PY_OTHER_EXE,
    PY_WINDOWS,
    desired,
    dist,
    lock_for,
    observation,
    pkg,
    plan_one,
    plugin,
    state_marker,
    unmanaged,
    venv,
)
from hypothesis import assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from reconciler import render
from reconciler.errors import LockError
from reconciler.models import (
    Action,
    DesiredState,
    FileDrift,
    IndexOptions,
    Install,
    InstalledDist,
    Interpreter,
    Lock,
    MarkerStatus,
    Observation,
    ObservedVenv,
    Plugin,
    Uninstall,
)
from reconciler.plan import make_plan, require_plannable
from reconciler.support.values import evolve

LOCKED = (pkg("certifi", "2024.2.2"), pkg("requests", "2.32.3"), pkg("urllib3", "2.2.1"))
MATCHING = tuple(dist(p.name, p.version) for p in LOCKED)


# --------------------------------------------------------------------------- create


def test_create_when_no_venv_installs_every_locked_package() -> None:
    plan = plan_one(LOCKED, None)
    (step,) = plan.steps
    assert step.plugin == "tap"
    assert step.action is Action.CREATE
    assert step.reasons == ("no venv",)
    assert step.install == tuple(Install(p) for p in LOCKED)
    assert all(i.from_version is None for i in step.install)
    assert step.uninstall == ()
    assert step.interpreter == PY


# --------------------------------------------------------------------------- reinstall


@pytest.mark.parametrize(
    ("observed", "reasons"),
    [
        pytest.param(
            venv("tap", *MATCHING, problems=("incomplete (no pyvenv.cfg)",)),
            ("incomplete (no pyvenv.cfg)",),
            id="no-pyvenv-cfg",
        ),
        pytest.param(
            venv(
                "tap",
                *MATCHING,
                marker=state_marker("tap"),
                problems=("interpreter /usr/bin/python3.10 missing",),
            ),
            ("interpreter /usr/bin/python3.10 missing",),
            id="interpreter-missing",
        ),
        pytest.param(
            venv(
                "tap",
                *MATCHING,
                has_marker_file=False,
                problems=("incomplete (no state marker)",),
            ),
            ("incomplete (no state marker)",),
            id="no-state-marker",
        ),
        pytest.param(
            venv("tap", *MATCHING, problems=("corrupt state marker",)),
            ("corrupt state marker",),
            id="corrupt-marker",
        ),
        pytest.param(
            venv(
                "tap",
                *MATCHING,
                marker=state_marker("tap", status=MarkerStatus.UPGRADING),
                problems=("incomplete (interrupted upgrade)",),
            ),
            ("incomplete (interrupted upgrade)",),
            id="interrupted-upgrade",
        ),
        pytest.param(
            venv(
                "tap",
                *MATCHING,
                dist("requests", "2.31.0"),
                marker=state_marker("tap"),
                problems=("duplicate dist-info for requests",),
            ),
            ("duplicate dist-info for requests",),
            id="duplicate-dist-info",
        ),
        pytest.param(
            venv(
                "tap",
                *MATCHING,
                problems=("incomplete (no pyvenv.cfg)", "corrupt state marker"),
            ),
            ("incomplete (no pyvenv.cfg)", "corrupt state marker"),
            id="several-problems",
        ),
    ],
)
def test_reinstall_when_venv_is_broken(observed: ObservedVenv, reasons: tuple[str, ...]) -> None:
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.REINSTALL
    assert step.reasons == reasons
    assert [i.package for i in step.install] == list(LOCKED)
    assert step.uninstall == ()
    assert step.interpreter == PY


def test_reinstall_when_python_version_changed() -> None:
    observed = venv("tap", *MATCHING, interpreter=PY_OLD)
    (step,) = plan_one(LOCKED, observed, interpreter=PY).steps
    assert step.action is Action.REINSTALL
    assert step.reasons == ("python 3.11.2 -> 3.11.7",)
    assert [i.package for i in step.install] == list(LOCKED)
    assert step.interpreter == PY


def test_reinstall_when_same_version_but_other_executable() -> None:
    observed = venv("tap", *MATCHING, interpreter=PY)
    (step,) = plan_one(LOCKED, observed, interpreter=PY_OTHER_EXE).steps
    assert step.action is Action.REINSTALL
    (reason,) = step.reasons
    assert PY.executable in reason
    assert PY_OTHER_EXE.executable in reason
    assert step.interpreter == PY_OTHER_EXE


@pytest.mark.parametrize(
    ("built_at", "location", "reasons"),
    [
        pytest.param(
            "/old/proj/.venvs/g1",
            "/new/proj/.venvs/g1",
            ("venv moved (built at /old/proj/.venvs/g1)",),
            id="moved",
        ),
        pytest.param("/proj/.venvs/g1", "/proj/.venvs/g1", (), id="in-place"),
        pytest.param(None, "/new/proj/.venvs/g1", (), id="older-marker-without-built-at"),
        pytest.param("/proj/.venvs/g1", None, (), id="location-unknown"),
    ],
)
def test_reinstall_when_the_venv_moved(
    built_at: str | None, location: str | None, reasons: tuple[str, ...]
) -> None:
    marker = evolve(state_marker("tap"), built_at=built_at)
    observed = evolve(venv("tap", *MATCHING, marker=marker), location=location)
    (step,) = plan_one(LOCKED, observed).steps
    assert step.reasons == reasons
    if reasons:
        assert step.action is Action.REINSTALL
        assert [i.package for i in step.install] == list(LOCKED)
    else:
        assert step.action is Action.NOOP


def test_a_move_changes_the_fingerprint() -> None:
    marker = evolve(state_marker("tap"), built_at="/a/g1")
    here = evolve(venv("tap", *MATCHING, marker=marker), location="/a/g1")
    there = evolve(here, location="/b/g1")
    assert plan_one(LOCKED, here).fingerprint != plan_one(LOCKED, there).fingerprint


def test_every_step_that_builds_carries_every_locked_package() -> None:
    """``locked`` is what a new generation gets, also for an upgrade (``keep-generations``)."""
    older = venv(
        "tap", dist("certifi", "2024.2.2"), dist("requests", "2.31.0"), dist("urllib3", "2.2.1")
    )
    for observed in (None, older, venv("tap", *MATCHING, interpreter=PY_OLD)):
        (step,) = plan_one(LOCKED, observed).steps
        assert step.locked == LOCKED, step


# --------------------------------------------------------------------------- upgrade


def test_upgrade_pin_changed_installs_only_the_differing_package() -> None:
    observed = venv(
        "tap", dist("certifi", "2024.2.2"), dist("requests", "2.31.0"), dist("urllib3", "2.2.1")
    )
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.UPGRADE
    assert step.install == (Install(pkg("requests", "2.32.3"), from_version="2.31.0"),)
    assert step.uninstall == ()
    assert step.reasons == ("requests 2.31.0 -> 2.32.3",)


def test_upgrade_installs_a_missing_package() -> None:
    observed = venv("tap", dist("certifi", "2024.2.2"), dist("requests", "2.32.3"))
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.UPGRADE
    assert step.install == (Install(pkg("urllib3", "2.2.1"), from_version=None),)
    assert step.uninstall == ()
    (reason,) = step.reasons
    assert "urllib3" in reason
    assert "2.2.1" in reason


def test_upgrade_uninstalls_a_package_not_in_the_lock() -> None:
    observed = venv("tap", *MATCHING, dist("x", "1.0"))
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.UPGRADE
    assert step.install == ()
    assert step.uninstall == (Uninstall("x", "1.0"),)
    assert step.reasons == ("remove x 1.0 (not in lock)",)


def test_upgrade_combines_changed_missing_and_extra() -> None:
    observed = venv(
        "tap", dist("certifi", "2023.1.1"), dist("requests", "2.32.3"), dist("chardet", "5.2.0")
    )
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.UPGRADE
    assert set(step.install) == {
        Install(pkg("certifi", "2024.2.2"), from_version="2023.1.1"),
        Install(pkg("urllib3", "2.2.1")),
    }
    assert step.uninstall == (Uninstall("chardet", "5.2.0"),)
    assert "certifi 2023.1.1 -> 2024.2.2" in step.reasons
    assert "remove chardet 5.2.0 (not in lock)" in step.reasons
    assert len(step.reasons) == 3


def test_upgrade_matches_installed_names_by_pep503_normalisation() -> None:
    locked = (pkg("Demo_Common", "1.0.0"),)
    observed = venv("tap", InstalledDist("demo-common", "0.9"))
    (step,) = plan_one(locked, observed).steps
    assert step.action is Action.UPGRADE
    assert step.install == (Install(locked[0], from_version="0.9"),)
    assert step.uninstall == ()


@pytest.mark.parametrize("bootstrap", ["pip", "setuptools", "wheel"])
def test_bootstrap_dists_are_ignored_unless_locked(bootstrap: str) -> None:
    observed = venv("tap", *MATCHING, dist(bootstrap, "24.0"))
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.NOOP


@pytest.mark.parametrize("bootstrap", ["pip", "setuptools", "wheel"])
def test_locked_bootstrap_dist_is_installed_when_absent(bootstrap: str) -> None:
    locked = (*LOCKED, pkg(bootstrap, "69.0"))
    (step,) = plan_one(locked, venv("tap", *MATCHING)).steps
    assert step.action is Action.UPGRADE
    assert step.install == (Install(pkg(bootstrap, "69.0")),)
    assert step.uninstall == ()


def test_locked_bootstrap_dist_is_upgraded_when_version_differs() -> None:
    locked = (*LOCKED, pkg("pip", "24.0"))
    (step,) = plan_one(locked, venv("tap", *MATCHING, dist("pip", "23.1"))).steps
    assert step.action is Action.UPGRADE
    assert step.install == (Install(pkg("pip", "24.0"), from_version="23.1"),)


@pytest.mark.parametrize(
    ("installed", "locked"),
    [
        pytest.param("1.0", "1.0.0", id="trailing-zero"),
        pytest.param("2", "2.0.0", id="short"),
        pytest.param("1.0rc1", "1.0c1", id="rc-spelling"),
        pytest.param("1.0.post0", "1.0-post0", id="post-spelling"),
        pytest.param("1.0.0", "v1.0", id="v-prefix"),
    ],
)
def test_version_equality_is_pep440(installed: str, locked: str) -> None:
    (step,) = plan_one((pkg("demo", locked),), venv("tap", dist("demo", installed))).steps
    assert step.action is Action.NOOP


def test_version_inequality_is_pep440() -> None:
    (step,) = plan_one((pkg("demo", "1.0.1"),), venv("tap", dist("demo", "1.0"))).steps
    assert step.action is Action.UPGRADE


# --------------------------------------------------------------------------- no-op, remove


def test_noop_when_venv_matches_lock() -> None:
    (step,) = plan_one(LOCKED, venv("tap", *MATCHING)).steps
    assert step.action is Action.NOOP
    assert step.reasons == ()
    assert step.install == ()
    assert step.uninstall == ()


@pytest.mark.parametrize(
    "observed",
    [
        pytest.param(venv("old", dist("x", "1.0")), id="healthy"),
        pytest.param(
            venv("old", marker=state_marker("old"), problems=("incomplete (no pyvenv.cfg)",)),
            id="broken",
        ),
        pytest.param(venv("old", problems=("corrupt state marker",)), id="corrupt-marker"),
    ],
)
def test_remove_undeclared_managed_venv(observed: ObservedVenv) -> None:
    plan = make_plan(desired(), {}, {}, observation(observed))
    (step,) = plan.steps
    assert step.plugin == "old"
    assert step.action is Action.REMOVE
    assert step.reasons == ("no longer declared",)
    assert plan.warnings == ()


def test_undeclared_unmanaged_directory_is_left_alone_with_a_warning() -> None:
    plan = make_plan(desired(), {}, {}, observation(unmanaged("junk", dist("x", "1.0"))))
    assert plan.steps == ()
    (warning,) = plan.warnings
    assert "unmanaged directory left alone" in warning
    assert "junk" in warning


# --------------------------------------------------------------------------- locks


def test_missing_lock_is_an_error_naming_the_plugin() -> None:
    tap = plugin("tap-csv")
    with pytest.raises(LockError, match="tap-csv") as info:
        require_plannable(make_plan(desired(tap), {}, {"tap-csv": PY}, observation()))
    assert "\n" not in str(info.value)


def test_missing_lock_is_a_blocked_step_not_an_exception() -> None:
    """The planner returns the plugin as blocked, with its reason; the others are planned."""
    tap, other = plugin("tap-csv"), plugin("tap-other")
    locks: dict[str, Lock | None] = {"tap-other": lock_for(other, *LOCKED)}
    plan = make_plan(desired(tap, other), locks, {"tap-csv": PY, "tap-other": PY}, observation())
    blocked, planned = plan.steps
    assert blocked.plugin == "tap-csv"
    assert blocked.blocked is not None
    assert "no lock" in blocked.blocked
    assert plan.blocked == (blocked,)
    assert blocked not in plan.changes
    assert (planned.plugin, planned.action, planned.blocked) == ("tap-other", Action.CREATE, None)


def test_lock_none_is_missing() -> None:
    tap = plugin("tap-csv")
    with pytest.raises(LockError, match="tap-csv"):
        require_plannable(
            make_plan(desired(tap), {"tap-csv": None}, {"tap-csv": PY}, observation())
        )


@pytest.mark.parametrize(
    ("lock_plugin", "lock_interpreter", "lock_index", "reason"),
    [
        pytest.param(
            plugin("tap-csv", "tap-csv==1.0"), PY, None, "requirements changed", id="requirements"
        ),
        pytest.param(plugin("tap-csv", "tap-csv==1.2"), PY_312, None, "python", id="python"),
        pytest.param(
            plugin("tap-csv", "tap-csv==1.2"),
            PY,
            IndexOptions(index_url="https://mirror/simple"),
            "index settings changed",
            id="index",
        ),
    ],
)
def test_stale_lock_is_an_error_naming_plugin_and_reason(
    lock_plugin: Plugin,
    lock_interpreter: Interpreter,
    lock_index: IndexOptions | None,
    reason: str,
) -> None:
    tap = plugin("tap-csv", "tap-csv==1.2")
    lock = lock_for(
        lock_plugin, pkg("tap-csv", "1.2"), interpreter=lock_interpreter, index=lock_index
    )
    with pytest.raises(LockError) as info:
        require_plannable(
            make_plan(desired(tap), {"tap-csv": lock}, {"tap-csv": PY}, observation())
        )
    message = str(info.value)
    assert "tap-csv" in message
    assert "stale" in message
    assert reason in message
    assert "\n" not in message


def test_python_major_minor_change_reports_both_versions() -> None:
    tap = plugin("tap-csv", "tap-csv==1.2")
    lock = lock_for(tap, pkg("tap-csv", "1.2"), interpreter=PY_312)
    with pytest.raises(LockError, match=r"3\.12 -> 3\.11"):
        require_plannable(
            make_plan(desired(tap), {"tap-csv": lock}, {"tap-csv": PY}, observation())
        )


def test_python_patch_change_does_not_make_the_lock_stale() -> None:
    tap = plugin("tap")
    lock = lock_for(tap, *LOCKED, interpreter=PY_OLD)
    plan = make_plan(desired(tap), {"tap": lock}, {"tap": PY}, observation())
    assert [s.action for s in plan.steps] == [Action.CREATE]


def test_lock_without_inputs_header_is_stale() -> None:
    tap = plugin("tap")
    lock = lock_for(tap, *LOCKED)
    headless = Lock(tap.name, lock.path, None, lock.packages, lock.content_digest)
    with pytest.raises(LockError, match="tap"):
        require_plannable(make_plan(desired(tap), {"tap": headless}, {"tap": PY}, observation()))


def test_locks_of_undeclared_plugins_are_ignored() -> None:
    tap, gone = plugin("tap"), plugin("gone")
    stale = lock_for(plugin("gone", "other==1"), pkg("other", "1"))
    plan = make_plan(
        desired(tap),
        {"tap": lock_for(tap, *LOCKED), "gone": stale},
        {"tap": PY, gone.name: PY},
        observation(venv("tap", *MATCHING)),
    )
    assert [(s.plugin, s.action) for s in plan.steps] == [("tap", Action.NOOP)]


# --------------------------------------------------------------------------- only=, order


def _three() -> tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation]:
    a, b, c = plugin("c-third"), plugin("a-first"), plugin("b-second")
    return (
        desired(a, b, c),
        {p.name: lock_for(p, *LOCKED) for p in (a, b, c)},
        {p.name: PY for p in (a, b, c)},
        observation(venv("b-second", *MATCHING), venv("ab-old"), unmanaged("zz-junk")),
    )


def test_steps_are_sorted_by_plugin_name() -> None:
    plan = make_plan(*_three())
    assert [s.plugin for s in plan.steps] == ["a-first", "ab-old", "b-second", "c-third"]
    assert [s.action for s in plan.steps] == [
        Action.CREATE,
        Action.REMOVE,
        Action.NOOP,
        Action.CREATE,
    ]


def test_only_filters_the_plan() -> None:
    plan = make_plan(*_three(), only=["c-third", "ab-old"])
    assert [s.plugin for s in plan.steps] == ["ab-old", "c-third"]
    assert plan.warnings == ()


def test_only_does_not_check_locks_of_other_plugins() -> None:
    want, locks, interpreters, observed = _three()
    locks["a-first"] = None
    plan = make_plan(want, locks, interpreters, observed, only=["b-second"])
    assert [(s.plugin, s.action) for s in plan.steps] == [("b-second", Action.NOOP)]
    with pytest.raises(LockError, match="a-first"):
        require_plannable(make_plan(want, locks, interpreters, observed))


# --------------------------------------------------------------------------- markers

COLORAMA = pkg("colorama", "0.4.6", marker='sys_platform == "win32"')
WITH_MARKER = (*LOCKED, COLORAMA)


def test_marker_excludes_package_on_other_platform_at_create() -> None:
    (step,) = plan_one(WITH_MARKER, None, interpreter=PY).steps
    assert step.action is Action.CREATE
    assert [i.package.name for i in step.install] == ["certifi", "requests", "urllib3"]


def test_marker_includes_package_on_matching_platform() -> None:
    (step,) = plan_one(WITH_MARKER, None, interpreter=PY_WINDOWS).steps
    assert "colorama" in [i.package.name for i in step.install]


def test_marker_excluded_package_absent_is_a_noop() -> None:
    (step,) = plan_one(WITH_MARKER, venv("tap", *MATCHING)).steps
    assert step.action is Action.NOOP


def test_marker_on_python_version_is_evaluated_for_the_interpreter() -> None:
    tomli = pkg("tomli", "2.0.1", marker='python_version < "3.11"')
    (step,) = plan_one((*LOCKED, tomli), None, interpreter=PY).steps
    assert "tomli" not in [i.package.name for i in step.install]


# --------------------------------------------------------------------------- Plan helpers


def test_plan_changes_and_count() -> None:
    plan = make_plan(*_three())
    assert [s.plugin for s in plan.changes] == ["a-first", "ab-old", "c-third"]
    assert plan.count(Action.CREATE) == 2
    assert plan.count(Action.REMOVE) == 1
    assert plan.count(Action.NOOP) == 1
    assert plan.count(Action.UPGRADE) == 0
    assert plan.count(Action.REINSTALL) == 0


def test_fingerprint_changes_with_observed_dists_and_lock_content() -> None:
    tap = plugin("tap")
    locks: dict[str, Lock | None] = {"tap": lock_for(tap, *LOCKED)}
    base = make_plan(desired(tap), locks, {"tap": PY}, observation(venv("tap", *MATCHING)))
    drifted = make_plan(
        desired(tap), locks, {"tap": PY}, observation(venv("tap", *MATCHING, dist("x", "1")))
    )
    relocked = make_plan(
        desired(tap),
        {"tap": lock_for(tap, pkg("requests", "2.32.3"))},
        {"tap": PY},
        observation(venv("tap", *MATCHING)),
    )
    assert base.fingerprint.startswith("sha256:")
    assert len({base.fingerprint, drifted.fingerprint, relocked.fingerprint}) == 3


# --------------------------------------------------------------------------- properties

NAMES = ("alpha", "beta", "gamma", "delta")
PACKAGES = ("requests", "chardet", "demo-common", "click")
VERSIONS = ("1.0", "1.0.0", "1.1", "2.0")
KINDS = ("healthy", "broken", "old-python", "unmanaged", "upgrading")


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation]:
    declared = sorted(draw(st.sets(st.sampled_from(NAMES))))
    on_disk = sorted(draw(st.sets(st.sampled_from(NAMES))))
    plugins = [plugin(n) for n in declared]
    locks: dict[str, Lock | None] = {}
    for p in plugins:
        versions = draw(
            st.dictionaries(st.sampled_from(PACKAGES), st.sampled_from(VERSIONS), min_size=1)
        )
        packages = [pkg(n, v) for n, v in sorted(versions.items())]
        if draw(st.booleans()):
            packages.append(COLORAMA)
        locks[p.name] = lock_for(p, *packages)
    venvs = []
    for name in on_disk:
        installed = draw(
            st.dictionaries(st.sampled_from((*PACKAGES, "pip")), st.sampled_from(VERSIONS))
        )
        dists = [dist(n, v) for n, v in installed.items()]
        kind = draw(st.sampled_from(KINDS))
        if kind == "healthy":
            venvs.append(venv(name, *dists))
        elif kind == "old-python":
            venvs.append(venv(name, *dists, interpreter=PY_OLD))
        elif kind == "unmanaged":
            venvs.append(unmanaged(name, *dists))
        elif kind == "upgrading":
            venvs.append(
                venv(
                    name,
                    *dists,
                    marker=state_marker(name, status=MarkerStatus.UPGRADING),
                    problems=("incomplete (interrupted upgrade)",),
                )
            )
        else:
            venvs.append(venv(name, *dists, problems=("incomplete (no pyvenv.cfg)",)))
    return desired(*plugins), locks, dict.fromkeys(declared, PY), observation(*venvs)


@hyp_settings(max_examples=60, deadline=None)
@given(worlds())
def test_plan_is_deterministic_and_complete(
    world: tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation],
) -> None:
    want, locks, interpreters, observed = world
    first = make_plan(want, locks, interpreters, observed)
    second = make_plan(want, locks, interpreters, observed)
    assert first == second
    assert render.to_json(first).encode() == render.to_json(second).encode()

    # Input order does not matter: the planner works on sets of plugins and venvs.
    shuffled = make_plan(
        DesiredState(want.project_file, want.settings, tuple(reversed(want.plugins))),
        locks,
        interpreters,
        Observation(observed.root, tuple(reversed(observed.venvs))),
    )
    assert shuffled == first

    counts = Counter(s.plugin for s in first.steps)
    declared = {p.name for p in want.plugins}
    managed = {v.name for v in observed.venvs if v.managed}
    assert set(counts) == declared | managed
    assert all(n == 1 for n in counts.values())
    assert [s.plugin for s in first.steps] == sorted(counts)
    for step in first.steps:
        assert (step.action is Action.REMOVE) == (step.plugin not in declared)


@hyp_settings(max_examples=40, deadline=None)
@given(worlds(), st.data())
def test_fingerprint_differs_when_observed_dists_differ(
    world: tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation],
    data: st.DataObject,
) -> None:
    want, locks, interpreters, observed = world
    venvs = [v for v in observed.venvs if v.name in {p.name for p in want.plugins} or v.managed]
    assume(venvs)  # nothing observed: no dist to drift (a vacuous pass would hide it)
    target = data.draw(st.sampled_from(venvs))
    extra = data.draw(st.sampled_from([dist("zzz-drift", v) for v in VERSIONS]))
    changed = Observation(
        observed.root,
        tuple(
            v
            if v is not target
            else ObservedVenv(
                target.name,
                target.path,
                target.has_marker_file,
                target.marker,
                target.problems,
                (*target.dists, extra),
            )
            for v in observed.venvs
        ),
    )
    before = make_plan(want, locks, interpreters, observed).fingerprint
    after = make_plan(want, locks, interpreters, changed).fingerprint
    assert before != after


@hyp_settings(max_examples=60, deadline=None)
@given(worlds(), st.booleans())
def test_simulated_apply_converges_to_no_changes(
    world: tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation],
    with_pip: bool,
) -> None:
    want, locks, interpreters, observed = world
    plan = make_plan(want, locks, interpreters, observed)
    after: list[ObservedVenv] = []
    for step in plan.steps:
        if step.action is Action.REMOVE:
            continue
        lock = locks[step.plugin]
        assert lock is not None
        # What apply leaves behind: exactly the applicable locked packages, marker complete.
        wanted = [i.package for i in step.install] if step.action is not Action.NOOP else []
        if step.action in (Action.CREATE, Action.REINSTALL):
            dists = [dist(p.name, p.version) for p in wanted]
        else:
            before = observed.get(step.plugin)
            assert before is not None
            removed = {u.name for u in step.uninstall}
            kept = {d.name: d for d in before.dists if d.name not in removed}
            kept.update({p.name: dist(p.name, p.version) for p in wanted})
            dists = list(kept.values())
        if with_pip and all(d.name != "pip" for d in dists):
            dists.append(dist("pip", "24.0"))
        after.append(venv(step.plugin, *dists, interpreter=interpreters[step.plugin]))
    after.extend(v for v in observed.venvs if not v.managed and v.name not in interpreters)
    replan = make_plan(want, locks, interpreters, observation(*after))
    assert replan.changes == ()
    assert all(s.action is Action.NOOP for s in replan.steps)
    assert len(replan.steps) == len(want.plugins)
    assert render.human(replan).startswith("No changes.")


@hyp_settings(max_examples=40, deadline=None)
@given(worlds())
def test_observed_equal_to_lock_is_a_noop(
    world: tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation],
) -> None:
    want, locks, interpreters, observed = world
    venvs = []
    for p in want.plugins:
        lock = locks[p.name]
        assert lock is not None
        venvs.append(
            venv(p.name, *(dist(x.name, x.version) for x in lock.packages if x.marker is None))
        )
    venvs.extend(v for v in observed.venvs if not v.managed and v.name not in interpreters)
    plan = make_plan(want, locks, interpreters, observation(*venvs))
    assert all(s.action is Action.NOOP for s in plan.steps)
    assert {s.plugin for s in plan.steps} == {p.name for p in want.plugins}


# --- --verify: files that differ from RECORD ------------------------------------------------------


def test_file_drift_reinstalls_exactly_the_affected_locked_distributions() -> None:
    packages = (pkg("demo-common", "1.1.0"), pkg("tap", "1.0.0"), pkg("other", "2.0.0"))
    files = (
        FileDrift("demo-common", "demo_common/__init__.py", "modified"),
        FileDrift("demo-common", "demo_common/evil.py", "unexpected"),
        FileDrift("pip", "pip/__init__.py", "modified"),  # not locked: not repaired
    )
    observed = evolve(
        venv("tap", dist("demo-common", "1.1.0"), dist("tap", "1.0.0"), dist("other", "2.0.0")),
        files=files,
    )
    step = plan_one(packages, observed).steps[0]
    assert step.action is Action.UPGRADE
    assert step.reasons == (
        "demo-common: demo_common/__init__.py modified",
        "demo-common: demo_common/evil.py unexpected",
    )
    assert [(i.package.name, i.from_version, i.repair) for i in step.install] == [
        ("demo-common", "1.1.0", True)
    ]
    assert step.uninstall == ()
    assert step.delete_files == ("demo_common/evil.py",)
    assert render.detail(step) == "demo-common: demo_common/__init__.py modified (+1 more)"
    entry = render.to_data(plan_one(packages, observed))["changes"][0]
    assert entry["install"] == [
        {"name": "demo-common", "version": "1.1.0", "from": "1.1.0", "repair": True}
    ]
    assert entry["delete_files"] == ["demo_common/evil.py"]


def test_file_drift_of_a_package_upgraded_anyway_is_not_installed_twice() -> None:
    observed = evolve(
        venv("tap", dist("demo-common", "1.0.0")),
        files=(FileDrift("demo-common", "demo_common/x.py", "missing"),),
    )
    step = plan_one((pkg("demo-common", "1.1.0"),), observed).steps[0]
    assert [(i.package.name, i.repair) for i in step.install] == [("demo-common", False)]
    assert "demo-common: demo_common/x.py missing" in step.reasons


def test_many_drifted_files_are_counted_not_all_named() -> None:
    files = tuple(FileDrift("tap", f"tap/m{i:02}.py", "modified") for i in range(12))
    observed = evolve(venv("tap", dist("tap", "1.0.0")), files=files)
    step = plan_one((pkg("tap", "1.0.0"),), observed).steps[0]
    assert len(step.reasons) == 6
    assert step.reasons[-1] == "tap: 7 more files"


def test_file_drift_changes_the_fingerprint() -> None:
    clean = venv("tap", dist("tap", "1.0.0"))
    drifted = evolve(clean, files=(FileDrift("tap", "tap/a.py", "modified"),))
    packages = (pkg("tap", "1.0.0"),)
    assert plan_one(packages, clean).fingerprint != plan_one(packages, drifted).fingerprint


def test_a_venv_path_apply_refuses_is_a_blocked_step_with_its_reason() -> None:
    """Issue 15 point 7: what apply will not replace (observe's ``blocked``) is planned as
    ``blocked`` with that reason, never as a reinstall; it is no change, and it is refused."""
    reason = "refusing to replace /p/.venvs/tap: not made by reconciler (no state marker)"
    foreign = evolve(unmanaged("tap"), blocked=reason)
    plan = plan_one(LOCKED, foreign)
    (step,) = plan.steps
    assert (step.action, step.reasons, step.install, step.blocked) == (
        Action.BLOCKED,
        (reason,),
        (),
        None,  # not a lock problem: the plan still stands, apply does the others
    )
    assert plan.changes == ()
    assert plan.refused == (step,)
    assert require_plannable(plan) is plan
    assert render.to_data(plan)["summary"]["blocked"] == 1
    assert render.to_data(plan)["changes"][0]["action"] == "blocked"
    text = render.human(plan)
    assert text.splitlines()[0].split() == ["!", "tap", "blocked", "refusing", *reason.split()[1:]]
    assert text.endswith("0 to remove; 1 blocked (apply refuses it).")
    # without ``blocked`` (empty, or claimed by the layout's tool): a reinstall, as before
    assert plan_one(LOCKED, unmanaged("tap")).steps[0].action is Action.REINSTALL
    assert "blocked" not in render.to_data(plan_one(LOCKED, unmanaged("tap")))["summary"]
