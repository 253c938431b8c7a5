"""Generation paths are numbered, not random: a root rebuilt from nothing reuses the last paths.

uv caches what it learns by starting an interpreter under the executable's path; a venv built
again at the path it had (``rm -rf .venvs`` and apply, a CI rebuild) lets ``uv pip install``
skip starting that venv's Python. Numbers still sort in creation order, after the time-based
names older releases wrote.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import PLUGINS, Project

from reconciler.apply import generations as gens
from reconciler.layouts.venvs import VenvsLayout


def test_first_generation_is_number_one_and_the_next_is_one_past_the_newest(
    tmp_path: Path,
) -> None:
    layout = VenvsLayout(tmp_path)
    first = gens.new_generation(layout, "tap-a")
    assert first.name == "g0000000000000001"
    first.mkdir(parents=True)
    assert gens.new_generation(layout, "tap-a").name == "g0000000000000002"
    # A directory written by an older release (creation time in ns, random suffix) sorts first.
    old = layout.generations_dir("tap-b") / "g0000018a2b3c4d5e-1f2e3d"
    old.mkdir(parents=True)
    after_old = gens.new_generation(layout, "tap-b")
    assert after_old.name == "g0000018a2b3c4d5f"
    after_old.mkdir()
    assert [g.name for g in gens.generations(layout, "tap-b")] == [old.name, after_old.name]


def test_rebuilding_the_root_from_nothing_reuses_the_same_real_paths(project: Project) -> None:
    project.ok("apply")
    before = {p: os.path.realpath(project.venv(p)) for p in PLUGINS}
    shutil.rmtree(project.venv_root)
    project.ok("apply")
    assert {p: os.path.realpath(project.venv(p)) for p in PLUGINS} == before
    # A reinstall still builds beside the live venv (a new number), then drops the old one.
    (project.venv(PLUGINS[0]) / "reconciler-state.json").write_text("{}", encoding="utf-8")
    project.ok("apply")
    rebuilt = Path(os.path.realpath(project.venv(PLUGINS[0])))
    assert rebuilt.name == "g0000000000000002"
    assert not Path(before[PLUGINS[0]]).exists()
