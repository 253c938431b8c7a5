"""The pip backend: ``python -m venv --without-pip`` plus the tool's own pip via ``--python``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler.installers.base import locked_install_args, run
from reconciler.models import IndexOptions, LockedPackage


class PipInstaller:
    """Installs with the pip that runs reconciler, targeting the venv's interpreter."""

    name = "pip"

    def create_venv(self, python: str, path: Path) -> None:
        """Create an empty venv (no pip seeded) at ``path`` with base interpreter ``python``."""
        run([python, "-m", "venv", "--without-pip", str(path)], "creating the venv")

    def install(
        self, venv: Path, packages: Sequence[LockedPackage], index: IndexOptions, project_dir: Path
    ) -> None:
        """Install exactly ``packages`` (no dependencies, hashes required when present)."""
        if not packages:
            return
        with locked_install_args(packages, index, project_dir) as args:
            command = [
                *self._pip(venv),
                "install",
                "--no-deps",
                "--no-input",
                "--no-warn-script-location",
                "--no-warn-conflicts",
                *args,
            ]
            run(command, "installing")

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Remove the distributions ``names`` from ``venv``."""
        if names:
            run([*self._pip(venv), "uninstall", "--yes", *names], "uninstalling")

    @staticmethod
    def _pip(venv: Path) -> list[str]:
        return [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
