"""The container recipe (contrib/docker/Dockerfile), run outside Docker (no engine here).

A small interpreter executes the Dockerfile's instructions in order: ``ARG``/``ENV`` set
variables (the paths overridden to temporary ones, the same in both stages, as in the image),
``WORKDIR`` changes directory, ``COPY`` copies from the build context or, with ``--from``, from
the build stage's files, ``RUN`` runs with ``bash -e`` (``--mount`` flags dropped: a cache mount
changes no result). A new stage starts from an empty file system: the build stage's paths are
moved aside first, so the runtime stage sees only what it copies. The tool's install step gets
its artifacts from a local stand-in for the index (pip's own environment variables)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, PLUGINS
from release_helpers import (
    REPO,
    artifacts,
    bash_step,
    demo_project,
    find_links,
    python_dir,
    release_env,
    run,
    tool_lock_with,
)

__all__ = ["artifacts"]  # the session fixture, imported for pytest
pytestmark = pytest.mark.slow
DOCKERFILE = REPO / "contrib" / "docker" / "Dockerfile"
#: Stage paths the test relocates under its temporary directory (same path in every stage).
PATH_ARGS = ("PROJECT_DIR", "TOOL_VENV")


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs: comments dropped, ``\\`` continuations joined."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m.group(1) or m.group(2), ""),
        value,
    )


class Builder:
    """Runs a Dockerfile's stages on this machine (see the module docstring)."""

    def __init__(self, context: Path, paths: dict[str, Path], env: dict[str, str]) -> None:
        self.context = context
        self.paths = paths
        self.base_env = env
        self.stage_files: dict[str, dict[Path, Path]] = {}
        self.logs: list[str] = []

    def build(self, dockerfile: Path) -> None:
        stage = ""
        variables: dict[str, str] = {}
        cwd = Path("/")
        for keyword, args in instructions(dockerfile.read_text(encoding="utf-8")):
            if keyword == "FROM":
                if stage:
                    self._end_stage(stage)
                stage = args.split(" AS ")[-1].strip() if " AS " in args else args
                variables, cwd = dict(self.base_env), Path("/")
            elif keyword == "ARG":
                name, _, default = args.partition("=")
                value = str(self.paths[name]) if name in self.paths else default
                variables[name] = expand(value, variables)
            elif keyword == "ENV":
                name, _, value = args.partition("=")
                variables[name] = expand(value, variables)
            elif keyword == "WORKDIR":
                cwd = Path(expand(args, variables))
                cwd.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self._copy(shlex.split(expand(args, variables)), cwd)
            elif keyword == "RUN":
                command = re.sub(r"^(--mount=\S+\s+)+", "", args)
                self._run(command, variables, cwd)
            elif keyword in {"CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "USER"}:
                continue
            else:
                raise AssertionError(f"unsupported instruction {keyword}")
        self.final_env = variables

    def _end_stage(self, stage: str) -> None:
        """The stage's file system: its paths moved aside, for ``COPY --from=stage``."""
        moved = {}
        for path in self.paths.values():
            if path.exists():
                aside = path.with_name(f"{path.name}.stage-{stage}")
                path.rename(aside)
                moved[path] = aside
        self.stage_files[stage] = moved

    def _copy(self, args: list[str], cwd: Path) -> None:
        source_stage = None
        if args[0].startswith("--from="):
            source_stage = args.pop(0).removeprefix("--from=")
        *sources, dest_text = args
        dest = Path(dest_text) if Path(dest_text).is_absolute() else cwd / dest_text
        for source in sources:
            if source_stage is None:
                origin = self.context / source
            else:
                origin = self._in_stage(source_stage, Path(source))
            assert origin.exists(), f"COPY {source}: {origin} does not exist"
            if origin.is_dir():
                shutil.copytree(origin, dest, symlinks=True, dirs_exist_ok=True)
            else:
                target = dest / origin.name if dest_text.endswith("/") else dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)

    def _in_stage(self, stage: str, path: Path) -> Path:
        for root, aside in self.stage_files[stage].items():
            if path == root or root in path.parents:
                return aside / path.relative_to(root)
        raise AssertionError(f"{path} is not in stage {stage}")

    def _run(self, command: str, variables: dict[str, str], cwd: Path) -> None:
        self.logs.append(bash_step(command, variables, cwd, f"RUN {command}"))


def test_dockerfile_stages_build_and_run_outside_docker(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    # The build context: the demo project as its owner keeps it (locks committed, the tool
    # pinned with hashes, the wheelhouse from `reconciler fetch`), made with the dev venv's tool.
    context = demo_project(tmp_path / "context")
    env = release_env(tmp_path, [python_dir(tmp_path / "image-python")])
    dev = REPO / ".venv" / "bin" / "reconciler"
    run([dev, "lock"], env, cwd=context)
    run([dev, "fetch", "--dest", "wheelhouse"], env, cwd=context)
    tool_lock_with(artifacts["wheel"], context / "reconciler-tool.txt")
    shutil.rmtree(context / "wheels")  # the image build must use the fetched wheelhouse only

    paths = {
        "PROJECT_DIR": tmp_path / "srv" / "project",
        "TOOL_VENV": tmp_path / "opt" / "reconciler",
    }
    env.update(
        PIP_NO_INDEX="1", PIP_FIND_LINKS=str(find_links(tmp_path / "index", artifacts["wheel"]))
    )
    builder = Builder(context, paths, env)
    builder.build(DOCKERFILE)

    project = paths["PROJECT_DIR"]
    assert "No changes." in builder.logs[-1]  # the runtime stage's own check
    assert sorted(p.name for p in project.iterdir()) == [".venvs", "lock", "reconciler.toml"]
    # The build stage is gone: the runtime image works from what it copied.
    for aside in builder.stage_files["build"].values():
        shutil.rmtree(aside)
    for plugin in PLUGINS:
        out = run([project / ".venvs" / plugin / "bin" / plugin], {"PATH": os.defpath}).stdout
        assert out.strip() == EXPECTED_OUTPUT[plugin]
    image_env = dict(builder.final_env)
    status = run(["reconciler", "status"], image_env, cwd=project).stdout  # the image's CMD
    assert "tap-alpha" in status

    # Why the same path: the same venvs copied elsewhere are not what the locks say.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project, elsewhere, symlinks=True)
    moved = run(["reconciler", "plan", "--detailed-exitcode"], image_env, cwd=elsewhere, expect=2)
    assert "venv moved" in moved.stdout
