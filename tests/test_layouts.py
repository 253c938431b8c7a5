"""The layout seam: where venvs live, what else they need, with no plan/execute special case."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from test_plan import LOCKED, MATCHING, plan_one, venv

from reconciler.apply import generations as gens
from reconciler.errors import SafetyError
from reconciler.layouts import link_target_problem, live_generation
from reconciler.layouts.venvs import VenvsLayout
from reconciler.models import Action
from reconciler.observe import observe
from reconciler.support.values import evolve, frozen


def test_venvs_layout_paths(tmp_path: Path) -> None:
    layout = VenvsLayout(tmp_path)
    assert layout.stable_path("tap-a") == tmp_path / "tap-a"
    assert layout.generations_dir("tap-a") == tmp_path / ".generations" / "tap-a"
    assert layout.extra_files("tap-a") == {}
    assert layout.claimed_by_tool(tmp_path / "tap-a") is None


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "..", "/abs"])
def test_venvs_layout_refuses_names_that_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(SafetyError, match="not a valid plugin name"):
        VenvsLayout(tmp_path).stable_path(name)


def test_entries_skip_reconcilers_own_files(tmp_path: Path) -> None:
    for name in ("tap-a", ".generations", ".reconciler.lock", "target-b"):
        (tmp_path / name).mkdir()
    layout = VenvsLayout(tmp_path)
    assert [n for n, _ in layout.entries()] == ["tap-a", "target-b"]
    assert layout.link_dirs() == [tmp_path]


def test_flip_links_relative_to_the_stable_paths_directory(tmp_path: Path) -> None:
    layout = VenvsLayout(tmp_path)
    generation = gens.new_generation(layout, "tap-a")
    generation.mkdir(parents=True)
    gens.flip(layout, "tap-a", generation)
    assert (tmp_path / "tap-a").readlink() == Path(".generations/tap-a") / generation.name
    assert live_generation(layout, "tap-a") == generation
    assert link_target_problem(layout, "tap-a") is None
    assert gens.stray_flip_links(layout) == []


@frozen
class _FileLayout(VenvsLayout):
    """A ``.venvs`` layout whose venvs also need one file (as the Meltano one does)."""

    def extra_files(self, plugin: str) -> Mapping[str, str]:
        return {"tool-fingerprint": f"{plugin}-abc"}


def test_observe_reports_extra_files_that_differ(tmp_path: Path) -> None:
    (tmp_path / "tap-a").mkdir()
    (tmp_path / "tap-b").mkdir()
    (tmp_path / "tap-b" / "tool-fingerprint").write_text("tap-b-abc", encoding="utf-8")
    found = {v.name: v.stale_files for v in observe(_FileLayout(tmp_path)).venvs}
    assert found == {"tap-a": ("tool-fingerprint",), "tap-b": ()}


def test_a_stale_extra_file_alone_plans_an_upgrade_that_installs_nothing() -> None:
    observed = evolve(venv("tap", *MATCHING), stale_files=("tool-fingerprint",))
    (step,) = plan_one(LOCKED, observed).steps
    assert step.action is Action.UPGRADE
    assert step.reasons == ("tool-fingerprint out of date",)
    assert step.install == ()
    assert step.uninstall == ()


def test_observe_reads_site_packages_sorted_with_every_problem(tmp_path: Path) -> None:
    """Distributions sorted by (name, version), ties in listing order; a name without a
    version, a dist-info without METADATA and a name found twice are problems, not dists; a
    ``direct_url.json`` is read."""
    from reconciler.models import DirectUrl, InstalledDist  # noqa: PLC0415
    from reconciler.observe import _read_dists  # noqa: PLC0415

    site = tmp_path / "lib" / "python3.11" / "site-packages"
    for entry in ("b_pkg-1.0", "A.Pkg-2.0", "a-pkg-1.0", "nodash", "c-1.0", "d-1.0", "e-1.01"):
        (site / f"{entry}.dist-info").mkdir(parents=True)
        if entry != "c-1.0":
            (site / f"{entry}.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n")
    (site / "d-1.0.dist-info" / "direct_url.json").write_text('{"url": "file:///src/d"}')
    (site / "not-a-dist").mkdir()
    dists, problems = _read_dists(tmp_path, {"version": "3.11.7"})
    assert dists == (
        InstalledDist("a-pkg", "1.0"),
        InstalledDist("a-pkg", "2.0"),
        InstalledDist("b-pkg", "1.0"),
        InstalledDist("d", "1.0", DirectUrl("file:///src/d", None, editable=False, is_dir=False)),
        InstalledDist("e", "1.1"),
    )
    assert sorted(problems[:-1]) == [
        "broken distribution c-1.0.dist-info (no METADATA)",
        "broken distribution nodash.dist-info",
    ]
    assert problems[-1] == "duplicate dist-info for a-pkg"


@pytest.mark.parametrize(
    "case", ["plain", "root-via-symlink", "generation-is-symlink", "dot-dot", "absolute", "dot"]
)
def test_observed_location_is_the_real_path(tmp_path: Path, case: str) -> None:
    """observe takes a venv's location from the real root and its plain link (no walk of the
    whole path per venv): the same string ``os.path.realpath`` gives, in every set-up."""
    import os  # noqa: PLC0415

    (tmp_path / "real-venvs").mkdir()
    root = tmp_path / "real-venvs"
    if case == "root-via-symlink":
        (tmp_path / ".venvs").symlink_to("real-venvs")
        root = tmp_path / ".venvs"
    generations = tmp_path / "real-venvs" / ".generations" / "tap"
    (generations / "g0").mkdir(parents=True)
    if case == "generation-is-symlink":
        (generations / "g1").symlink_to("g0")
    else:
        (generations / "g1").mkdir()
    link = {
        "dot-dot": ".generations/tap/../tap/g1",
        "absolute": str(generations / "g1"),
        "dot": "./.generations/tap/g1",
    }.get(case, ".generations/tap/g1")
    (tmp_path / "real-venvs" / "tap").symlink_to(link)
    observed = observe(VenvsLayout(root)).get("tap")
    assert observed is not None
    assert observed.location == os.path.realpath(root / "tap")
    assert observed.location.endswith("g0" if case == "generation-is-symlink" else "g1")
