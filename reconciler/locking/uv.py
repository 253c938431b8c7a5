"""The uv resolver: ``uv pip compile --generate-hashes`` for the plugin's Python version.

uv resolves for any target version (``--python-version X.Y.Z``, the plugin interpreter's full
version: ``X.Y`` alone would mean ``X.Y.0``) and, with ``--universal``, for
every platform at once, so no helper environment is needed. Its output is the same pip
requirements format pip-compile writes; an existing output file is uv's preference source, so
unchanged pins are kept exactly as pip-compile keeps them.
"""

from __future__ import annotations

from reconciler.installers.pipconfig import hermetic_env
from reconciler.locking.base import (
    CUSTOM_COMPILE_COMMAND,
    ResolveRequest,
    compile_lock,
    resolve_needs_tls,
    source_args,
    workdir,
)

UV_COMPILE_FLAGS = (
    "--generate-hashes",
    "--no-config",
    "--quiet",
    "--no-python-downloads",
    # pip (and so pip-compile) takes the best match across every index; uv's default
    # (first index only) would give other pins for the same inputs.
    "--index-strategy",
    "unsafe-best-match",
    "--custom-compile-command",
    CUSTOM_COMPILE_COMMAND,
)


def _explain(stderr: str) -> str:
    """uv's failure in one line (:func:`reconciler.support.tool_errors.explain_uv`)."""
    from reconciler.support.tool_errors import explain_uv  # noqa: PLC0415 - start-up: failures only

    return explain_uv(stderr)


class UvResolver:
    """Runs ``uv pip compile`` (the uv binary the installer uses too)."""

    name = "uv"

    def __init__(self, uv: str) -> None:
        self.uv = uv

    def resolve(self, request: ResolveRequest) -> str:
        """Resolve with uv; the previous lock is the output file (uv keeps its pins)."""
        plugin = request.plugin
        with workdir(request) as work:
            command = [
                self.uv,
                "pip",
                "compile",
                *UV_COMPILE_FLAGS,
                "--python",
                request.interpreter.executable,
                # the full X.Y.Z (X.Y alone means X.Y.0): the pins `meltano install` and pip
                # get on this interpreter, where a newer release needs a later patch level
                "--python-version",
                request.interpreter.release or request.interpreter.major_minor,
            ]
            if plugin.universal:
                command.append("--universal")
            # No previous lock (or --upgrade): no output file, so no preferences. uv's own
            # --upgrade would also imply --refresh (re-reading every index and find-links page,
            # ~0.4 s a plugin on a local wheelhouse); pip-compile's does not.
            for name in request.upgrade_packages:
                command.extend(["--upgrade-package", name])
            command.extend(source_args(request, ["--prerelease", "allow"]))
            command.extend(["--output-file", work.output.name, work.source.name])
            # a local wheelhouse, nothing built: no TLS set-up to pay for (pipconfig.TLS_VARIABLES)
            env = hermetic_env(tls=resolve_needs_tls(request))
            return compile_lock(command, plugin.name, "uv", work, _explain, env, label="uv-compile")
