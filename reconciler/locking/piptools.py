"""The pip-tools resolver: ``pip-compile`` (a subprocess) under the plugin's Python version."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
import threading
from importlib import resources
from pathlib import Path

from reconciler.errors import LockError
from reconciler.installers import find_uv
from reconciler.installers.base import requirements_file, show_command
from reconciler.installers.pipconfig import hermetic_env, index_args
from reconciler.locking.base import (
    CUSTOM_COMPILE_COMMAND,
    ResolveRequest,
    compile_lock,
    source_args,
    workdir,
)
from reconciler.models import Interpreter
from reconciler.support import procs, scratch
from reconciler.support.files import built_then_renamed
from reconciler.support.tool_errors import explain, explain_pip, explain_uv

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
                "universal = true needs the uv resolver "
                '(set resolver = "uv" or "auto" with uv installed, or universal = false)',
                plugin=plugin.name,
            )
        python = resolver_python(request.interpreter, request.tools_dir, request)
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
            command.extend(source_args(request, ["--pre"]))
            env = hermetic_env()
            env["CUSTOM_COMPILE_COMMAND"] = CUSTOM_COMPILE_COMMAND
            env["PIP_TOOLS_CACHE_DIR"] = env.get("PIP_TOOLS_CACHE_DIR", "") or str(_cache_dir())
            return compile_lock(
                command, plugin.name, "pip-compile", work, explain_pip, env, label="pip-compile"
            )


def resolver_python(
    interpreter: Interpreter, tools_dir: Path, request: ResolveRequest | None = None
) -> str:
    """An interpreter that runs pip-compile for ``interpreter``'s Python version.

    - the tool's own interpreter when the full version (X.Y.Z) matches (pip checks
      ``Requires-Python`` against the full version of the interpreter it runs under: another
      patch level of the same X.Y gets its own helper below);
    - Python 3.8-3.10 (older than reconciler itself, whose packages use newer syntax and need
      no ``tomli``): a helper venv of that interpreter holding the pip-tools that the lock
      shipped with reconciler (``reconciler/locking/helpers/py3.X.txt``) pins for it, installed
      hash-checked from the plugin's own index settings (``request``), cached under ``tools_dir``
      (``<venv-root>/.reconciler/tools/``); installed by uv into a venv made without ensurepip
      when uv is installed (the lock pins pip itself; ~10x faster on an old Python), else by
      the pip that ensurepip seeds;
    - newer Pythons: a helper venv that sees the tool's own pure-Python pip-tools and pip
      through a ``.pth`` file (no download).
    """
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = interpreter.release or interpreter.major_minor
    if wanted in (f"{current}.{sys.version_info.micro}", current):
        return sys.executable
    version = tuple(int(part) for part in interpreter.major_minor.split("."))
    if version < (3, 8):
        raise LockError(
            f"python {interpreter.version} is not supported "
            "(reconciler locks for CPython 3.8 and newer)"
        )
    with _HELPER_LOCK:
        if helper_lock(interpreter.major_minor) is not None:
            return _locked_helper_python(interpreter, tools_dir, request)
        return _helper_python(interpreter, tools_dir)


_HELPER_LOCK = threading.Lock()


def helper_lock(major_minor: str) -> str | None:
    """The text of the pip-tools lock shipped for Python ``major_minor`` (None: not needed)."""
    resource = resources.files("reconciler.locking") / "helpers" / f"py{major_minor}.txt"
    try:
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _locked_helper_python(
    interpreter: Interpreter, tools: Path, request: ResolveRequest | None
) -> str:
    text = helper_lock(interpreter.major_minor) or ""
    tag = hashlib.sha256((interpreter.executable + "\0" + text).encode()).hexdigest()[:10]
    helper = tools / f"pip-tools-py{interpreter.major_minor}-{tag}"
    python = helper / "bin" / "python"
    if (helper / ".complete").is_file():
        return str(python)
    what = f"cannot set up pip-tools for python {interpreter.version}"
    index = [] if request is None else index_args(request.index, request.project_dir)
    uv = find_uv()
    with built_then_renamed(helper, mark=".complete") as building:
        # With uv, no ensurepip (seconds on an old Python): the lock pins pip itself.
        seed = [] if uv is None else ["--without-pip"]
        created = procs.run(
            [interpreter.executable, "-m", "venv", "--clear", *seed, str(building)],
            env=hermetic_env(),
        )
        if created.returncode != 0:
            raise LockError(f"{what}: {explain(created.stderr or created.stdout)}")
        lines = [line for line in text.splitlines() if line.strip()]
        target = str(building / "bin" / "python")
        with requirements_file(lines) as requirements:
            if uv is None:
                command = [
                    target, "-m", "pip", "install", "--no-deps", "--require-hashes",
                    "--only-binary", ":all:", "--no-input", "--quiet",
                    *index, "-r", str(requirements),
                ]  # fmt: skip
            else:
                # pip's choice among indexes (best match), as the pip command above makes it;
                # every file is hash-checked either way.
                command = [
                    uv, "pip", "install", "--no-config", "--quiet", "--no-deps",
                    "--require-hashes", "--only-binary", ":all:",
                    "--index-strategy", "unsafe-best-match", "--python", target,
                    *index, "-r", str(requirements),
                ]  # fmt: skip
            show_command(command)
            result = procs.run(command, env=hermetic_env())
        if result.returncode != 0:
            output = result.stderr or result.stdout
            reason = explain(output) if uv is None else explain_uv(output)
            raise LockError(f"{what} (from the plugin's index): {reason}")
    return str(python)


def _helper_python(interpreter: Interpreter, tools: Path) -> str:
    purelib = sysconfig.get_paths()["purelib"]
    tag = hashlib.sha256(interpreter.executable.encode()).hexdigest()[:10]
    helper = tools / f"pip-tools-py{interpreter.major_minor}-{tag}"
    python = helper / "bin" / "python"
    pth_text = purelib + "\n"
    pth = _pth_file(helper) if python.exists() else None
    if pth is not None and pth.read_text(encoding="utf-8") == pth_text:
        return str(python)
    # Built in the run's scratch directory (same file system: renamed into place), so a killed
    # build is swept by the next run like any other temporary file.
    with built_then_renamed(helper, work=scratch.tmpdir()) as building:
        shutil.rmtree(building)
        result = procs.run(
            [interpreter.executable, "-m", "venv", "--without-pip", str(building)],
            env=os.environ,
        )
        if result.returncode != 0:
            raise LockError(
                f"cannot create a resolver environment for python {interpreter.version}: "
                f"{explain_pip(result.stderr)}"
            )
        site = next(building.glob("lib/python*/site-packages"))
        (site / "_reconciler_tools.pth").write_text(pth_text, encoding="utf-8")
    return str(python)


def _pth_file(helper: Path) -> Path | None:
    found = list(helper.glob("lib/python*/site-packages/_reconciler_tools.pth"))
    return found[0] if found else None


def _cache_dir() -> Path:
    from reconciler.support.paths import cache_dir  # noqa: PLC0415 - keep the module light

    return cache_dir() / "pip-tools"
