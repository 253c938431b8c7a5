"""The uv backend: ``uv venv`` plus ``uv pip install --python <venv>`` (uv's hard-link cache)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.installers import find_uv
from reconciler.installers.base import InstallRequest, install_each_batch, run
from reconciler.support.paths import cache_dir


class UvInstaller:
    """Creates venvs with ``uv venv`` and installs with ``uv pip`` targeting the venv."""

    name = "uv"

    def __init__(self, uv: str | None = None) -> None:
        found = uv or find_uv()
        if found is None:
            raise ReconcilerError(
                "installer 'uv' requested but uv is not installed "
                "(pip install 'reconciler[uv]', or use --installer pip)"
            )
        self.uv = found

    def create_venv(self, python: str, path: Path) -> None:
        """Create an empty venv (no seed packages) at ``path`` with base interpreter ``python``:
        what ``uv venv`` writes there, copied from its output made once (see :mod:`.template`)."""
        from reconciler.installers import template  # noqa: PLC0415 - start-up: an upgrade creates no venv

        template.create(
            "uv venv", self.uv, python, path, lambda p: self._uv_venv(python, p), cache_dir()
        )

    def _uv_venv(self, python: str, path: Path) -> None:
        run(
            [
                self.uv,
                "venv",
                "--no-config",
                "--quiet",
                "--allow-existing",
                "--python",
                python,
                str(path),
            ],
            "creating the venv",
            pip_config=False,  # uv reads no PIP_* variable: pip's files are not read for it
            # an interpreter given by path: nothing to download, no TLS set-up to pay for
            tls=not Path(python).is_absolute(),
        )

    def install(self, request: InstallRequest) -> None:
        """Install exactly the request's packages (see :class:`InstallRequest`)."""
        python = str(request.venv / "bin" / "python")
        install_each_batch(
            request,
            lambda batch: [
                *(self.uv, "pip", "install", "--no-config", "--quiet", "--no-deps"),
                *(["--reinstall"] if batch.force and not batch.reinstall else []),
                *(f"--reinstall-package={name}" for name in batch.reinstall),
                *(["--no-cache"] if batch.fresh else []),
                *("--python", python, *batch.args),
            ],
            mixed=True,
            pip_config=False,
            keep_tls=False,  # a call of local wheels that builds nothing runs without TLS settings
        )

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Remove the distributions ``names`` from ``venv``."""
        if names:
            run(
                [
                    self.uv,
                    "pip",
                    "uninstall",
                    "--no-config",
                    "--quiet",
                    "--python",
                    str(venv / "bin" / "python"),
                    *names,
                ],
                "uninstalling",
                pip_config=False,
                tls=False,  # removes files: never reaches a server, no TLS set-up to pay for
            )
