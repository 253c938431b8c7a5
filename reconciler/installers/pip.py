"""The pip backend: ``python -m venv --without-pip`` plus the tool's own pip via ``--python``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler.installers.base import InstallRequest, install_each_batch, run
from reconciler.interpreters import pip_command
from reconciler.support import venvcfg
from reconciler.support.paths import cache_dir


class PipInstaller:
    """Installs with the pip that runs reconciler, targeting the venv's interpreter."""

    name = "pip"

    def create_venv(self, python: str, path: Path) -> None:
        """Create an empty venv (no pip seeded) at ``path`` with base interpreter ``python``:
        what ``python -m venv`` writes there, copied from its output made once (see
        :mod:`.template`)."""
        from reconciler.installers import template  # noqa: PLC0415 - start-up: an upgrade creates no venv

        template.create("venv", python, python, path, lambda p: _venv(python, p), cache_dir())

    def install(self, request: InstallRequest) -> None:
        """Install exactly the request's packages (see :class:`InstallRequest`)."""
        pip = self._pip(request.venv) if request.packages else []
        flags = ["--no-deps", "--no-input", "--no-warn-script-location", "--no-warn-conflicts"]
        install_each_batch(
            request,
            lambda batch: [
                *pip,
                "install",
                *flags,
                *(["--force-reinstall"] if batch.force else []),
                *(["--no-cache-dir"] if batch.fresh else []),
                *batch.args,
            ],
        )

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Remove the distributions ``names`` from ``venv``."""
        if names:
            run([*self._pip(venv), "uninstall", "--yes", *names], "uninstalling")

    @staticmethod
    def _pip(venv: Path) -> list[str]:
        python = venv / "bin" / "python"
        version = venvcfg.python_version(venvcfg.read(venv))
        if version is None:
            return [sys.executable, "-m", "pip", "--python", str(python)]
        return [*pip_command(str(python), version), "--python", str(python)]


def _venv(python: str, path: Path) -> None:
    run([python, "-m", "venv", "--without-pip", str(path)], "creating the venv")
