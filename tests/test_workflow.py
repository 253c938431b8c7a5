"""The CI recipe in docs/: valid against GitHub's workflow schema, and its ``run:`` steps do what
they say when executed in order on the demo project, as a runner would (``$GITHUB_PATH``,
``$RUNNER_TEMP``, ``bash -e``), with the tool installed by the workflow's own hash-checked step
from a local wheelhouse standing in for the index."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from release_helpers import (
    REPO,
    artifacts,
    bash_step,
    demo_project,
    find_links,
    python_dir,
    release_env,
    tool,
    tool_lock_with,
)
from ruamel.yaml import YAML

__all__ = ["artifacts"]  # the session fixture, imported for pytest
WORKFLOW = REPO / "docs" / "reconciler-drift-check.yml"


def _workflow(path: Path = WORKFLOW) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def _steps() -> list[dict[str, Any]]:
    (job,) = _workflow()["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    exe = tool("check-jsonschema")
    return subprocess.run(
        [str(exe), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(path.parent)},
    )


def test_workflow_is_valid_against_the_github_schema(tmp_path: Path) -> None:
    valid = _check_jsonschema(WORKFLOW)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"), encoding="utf-8")
    invalid = _check_jsonschema(broken)
    assert invalid.returncode == 1, invalid.stdout
    assert "'runs-on' is a required property" in invalid.stdout


def test_workflow_has_what_the_recipe_promises() -> None:
    steps = _steps()
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert set(uses) >= {"actions/checkout", "actions/setup-python", "actions/cache"}
    versions = uses["actions/setup-python"]["with"]["python-version"].split()
    assert "3.11" in versions
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == "~/.cache/uv"
    assert "hashFiles('lock/**', 'reconciler-tool.txt')" in cache["key"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "--require-hashes" in runs
    assert "reconciler-tool.txt" in runs
    assert "reconciler lock --check" in runs
    assert "reconciler plan --detailed-exitcode" in runs
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "venv-reconciler[uv]==" in text


@pytest.mark.slow
def test_workflow_run_steps_pass_on_the_demo_project(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """Checkout = a copy of the demo project (one plugin on 3.12, a version the workflow's
    setup-python list names); then every ``run:`` step in order; then a stale lock fails."""
    project = demo_project(tmp_path / "project")
    versions = next(
        s["with"]["python-version"].split() for s in _steps() if "setup-python" in s.get("uses", "")
    )
    doc = tomlkit.parse((project / "reconciler.toml").read_text(encoding="utf-8"))
    doc["plugins"]["tap-beta"]["python"] = versions[0]  # type: ignore[index]
    (project / "reconciler.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
    tool_lock_with(artifacts["wheel"], project / "reconciler-tool.txt")
    env = _runner_env(tmp_path, artifacts["wheel"])
    # The developer ran `reconciler lock` and committed lock/ (with the dev venv's reconciler).
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "reconciler"), "lock"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    logs, env = _run_steps(project, env)
    assert "All 3 locks are fresh." in logs["Locks are fresh (reconciler.toml and lock/ agree)"]
    assert "No changes." in logs["Nothing left to do (exit 2 would mean drift)"]
    installed = Path(env["RUNNER_TEMP"]) / "reconciler" / "bin" / "reconciler"
    assert installed.is_file()
    marker = (project / ".venvs" / "tap-beta" / "reconciler-state.json").read_text()
    assert f'"python_version": "{versions[0]}.' in marker
    # A plugin added without locking: the drift check fails at its first reconciler step (the
    # steps after the install step, with the tool it installed: only the commit differs).
    doc["plugins"]["tap-new"] = {"requirements": ["tap-alpha"]}  # type: ignore[index]
    (project / "reconciler.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"exit 2[\s\S]*tap-new: missing") as failed:
        _run_steps(project, env, after=INSTALL_STEP)
    assert "Locks are fresh" in str(failed.value), "not the first reconciler step"


def _runner_env(tmp_path: Path, wheel: Path) -> dict[str, str]:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = release_env(tmp_path, [python_dir(tmp_path / "setup-python")])
    env.update(
        RUNNER_TEMP=str(runner_temp),
        GITHUB_PATH=str(tmp_path / "github-path"),
        GITHUB_WORKSPACE=str(tmp_path / "project"),
        CI="true",
        # pip's index for the install step: the local stand-in (lock's wheels + the built one).
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(find_links(tmp_path / "index", wheel)),
    )
    return env


#: The step that installs the tool (and puts it on ``$GITHUB_PATH``).
INSTALL_STEP = "Install reconciler"


def _run_steps(
    project: Path, env: dict[str, str], after: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Run every ``run:`` step (only those after the step whose name starts with ``after``)
    with ``bash -e`` as GitHub does; ``$GITHUB_PATH`` lines are put first on ``PATH`` for the
    next steps. Returns each step's output by name, and the environment the steps left."""
    env = dict(env)
    github_path = Path(env["GITHUB_PATH"])
    github_path.write_text("", encoding="utf-8")
    logs: dict[str, str] = {}
    steps = [step for step in _steps() if "run" in step]
    if after is not None:
        (start,) = [n for n, s in enumerate(steps) if s.get("name", "").startswith(after)]
        steps = steps[start + 1 :]
    for step in steps:
        name = step.get("name", step["run"])
        logs[name] = bash_step(step["run"], env, project, name)
        added = [line for line in github_path.read_text(encoding="utf-8").splitlines() if line]
        env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
        github_path.write_text("", encoding="utf-8")
    return logs, env
