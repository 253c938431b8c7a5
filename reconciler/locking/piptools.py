"""The pip-tools resolver: ``pip-compile`` (a subprocess) under the plugin's Python version."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

from reconciler.errors import LockError
from reconciler.locking.base import (
    CUSTOM_COMPILE_COMMAND,
    ResolveRequest,
    run_resolver,
    workdir,
)
from reconciler.models import Interpreter
from reconciler.support import procs, scratch
from reconciler.support.pipconfig import hermetic_env, index_args, resolve_link
from reconciler.support.redact import redact

PIP_COMPILE_FLAGS = (
    "--generate-hashes",
    "--allow-unsafe",
    "--strip-extras",
    "--no-emit-index-url",
    "--no-emit-find-links",
    "--no-emit-trusted-host",
    "--no-config",
    "--quiet",
)


class PipToolsResolver:
    """Runs ``python -m piptools compile`` with the tool's own pip-tools.

    For another major.minor than the tool's own, pip-compile runs under the plugin's interpreter
    from a helper venv (see :func:`resolver_python`), since pip resolves for the interpreter it
    runs under.
    """

    name = "pip-tools"

    def resolve(self, request: ResolveRequest) -> str:
        """Resolve with pip-compile; the previous lock is its output file (pins kept)."""
        plugin = request.plugin
        if plugin.universal:
            raise LockError(
                f"plugin {plugin.name!r}: universal = true needs the uv resolver "
                '(set resolver = "uv" or "auto" with uv installed, or universal = false)'
            )
        python = resolver_python(request.interpreter, request.tools_dir)
        with workdir(request) as work:
            command = [
                python,
                "-m",
                "piptools",
                "compile",
                *PIP_COMPILE_FLAGS,
                "--output-file",
                work.output.name,
                work.source.name,
            ]
            if request.previous is None:
                command.append("--upgrade")
            for name in request.upgrade_packages:
                command.extend(["--upgrade-package", name])
            command.extend(index_args(request.index, request.project_dir))
            for constraint in plugin.constraints:
                command.extend(["--constraint", resolve_link(constraint, request.project_dir)])
            if plugin.pre:
                command.append("--pre")
            env = hermetic_env()
            env["CUSTOM_COMPILE_COMMAND"] = CUSTOM_COMPILE_COMMAND
            env["PIP_TOOLS_CACHE_DIR"] = env.get("PIP_TOOLS_CACHE_DIR", "") or str(_cache_dir())
            result = run_resolver(command, plugin.name, "pip-compile", work.path, env)
            if result.returncode != 0:
                raise LockError(
                    f"plugin {plugin.name!r}: cannot lock: {resolution_error(result.stderr)}"
                )
            return work.output.read_text(encoding="utf-8")


def resolver_python(interpreter: Interpreter, tools_dir: Path) -> str:
    """An interpreter that runs pip-compile for ``interpreter``'s Python version.

    The tool's own interpreter when the major.minor matches; otherwise a helper venv of the
    plugin's interpreter, cached under ``tools_dir`` (``<venv-root>/.reconciler/tools/``), that
    sees the tool's own (pure-Python) pip-tools and pip through a ``.pth`` file: no download,
    created once.
    """
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if interpreter.major_minor == current:
        return sys.executable
    with _HELPER_LOCK:
        return _helper_python(interpreter, tools_dir)


_HELPER_LOCK = threading.Lock()


def _helper_python(interpreter: Interpreter, tools: Path) -> str:
    purelib = sysconfig.get_paths()["purelib"]
    tag = hashlib.sha256(interpreter.executable.encode()).hexdigest()[:10]
    helper = tools / f"pip-tools-py{interpreter.major_minor}-{tag}"
    python = helper / "bin" / "python"
    pth_text = purelib + "\n"
    pth = _pth_file(helper) if python.exists() else None
    if pth is not None and pth.read_text(encoding="utf-8") == pth_text:
        return str(python)
    tools.mkdir(parents=True, exist_ok=True)
    # Built in the run's scratch directory (same file system: renamed into place), so a killed
    # build is swept by the next run like any other temporary file.
    building = Path(tempfile.mkdtemp(dir=scratch.tmpdir() or tools, prefix=".building-"))
    try:
        shutil.rmtree(building)
        result = procs.run(
            [interpreter.executable, "-m", "venv", "--without-pip", str(building)],
            env=os.environ,
        )
        if result.returncode != 0:
            raise LockError(
                f"cannot create a resolver environment for python {interpreter.version}: "
                f"{resolution_error(result.stderr)}"
            )
        site = next(building.glob("lib/python*/site-packages"))
        (site / "_reconciler_tools.pth").write_text(pth_text, encoding="utf-8")
        if helper.exists():
            shutil.rmtree(helper)
        building.rename(helper)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return str(python)


def _pth_file(helper: Path) -> Path | None:
    found = list(helper.glob("lib/python*/site-packages/_reconciler_tools.pth"))
    return found[0] if found else None


def _cache_dir() -> Path:
    from reconciler.support.interpreters import cache_dir  # noqa: PLC0415 - keep the module light

    return cache_dir() / "pip-tools"


_INTERESTING = (
    re.compile(r"Could not find a version that matches .*"),
    re.compile(r"No matching distribution found for .*"),
    re.compile(r"Cannot install .* because these package versions have conflicting dependencies.*"),
    re.compile(r"ResolutionImpossible.*"),
)


_CONFLICT_PART = re.compile(
    r"RequirementInformation\(requirement=\w+\('(?P<req>[^']*)'\), "
    r"parent=(?:None|\w+\('(?P<parent>[^']*)'\))"
)


def _conflict(stderr: str) -> str | None:
    """``demo-common<1.1 (requested) conflicts with demo-common>=1.1 (from tap_alpha-1.1.0)``."""
    parts = []
    for match in _CONFLICT_PART.finditer(stderr):
        parent = match.group("parent")
        if parent is None:
            parts.append(f"{match.group('req')} (requested)")
        else:
            artifact = parent.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            artifact = re.sub(r"(-py\d.*)?\.(whl|tar\.gz|zip)$", "", artifact)
            parts.append(f"{match.group('req')} (from {artifact})")
    if len(parts) < 2:
        return None
    return "conflicting requirements: " + " vs ".join(dict.fromkeys(parts))


def resolution_error(stderr: str) -> str:
    """The one line of pip-compile's output that explains a failed resolution."""
    conflict = _conflict(stderr)
    if conflict is not None:
        return redact(conflict)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for pattern in _INTERESTING:
        for line in lines:
            match = pattern.search(line)
            if match:
                return redact(match.group(0))
    for line in reversed(lines):
        if line.startswith(("ERROR:", "Error:")):
            return redact(line.split(":", 1)[1].strip())
    return redact(lines[-1]) if lines else "pip-compile failed with no output"
