"""Hermetic pip invocations: ambient index configuration out, network settings kept."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from reconciler.models import IndexOptions

DEFAULT_INDEX_URL = "https://pypi.org/simple"
#: pip settings a user may need to reach an index at all; these survive neutralisation.
NETWORK_KEYS = (
    "cert",
    "client-cert",
    "proxy",
    "timeout",
    "default-timeout",
    "retries",
    "trusted-host",
    "cache-dir",
    "no-cache-dir",
    "keyring-provider",
)
_CONFIG_SECTIONS = ("global", "install", "download", "wheel")


def _config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files, lowest priority first (as pip documents them on POSIX)."""
    files: list[Path] = []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files.extend(Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs.split(os.pathsep)) if d)
    files.append(Path("/etc/pip.conf"))
    home = Path(environ.get("HOME") or Path.home())
    files.append(home / ".pip" / "pip.conf")
    files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    explicit = environ.get("PIP_CONFIG_FILE")
    if explicit and explicit != os.devnull:
        files.append(Path(explicit))
    return files


def _network_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The network settings (cert, proxy, ...) ambient pip configuration files define."""
    found: dict[str, str] = {}
    if environ.get("PIP_CONFIG_FILE") == os.devnull:
        return found
    for path in _config_files(environ):
        if not path.is_file():
            continue  # the common case: no file, and configparser (~2 ms) never loaded
        import configparser  # noqa: PLC0415 - start-up: only when a pip configuration exists

        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in _CONFIG_SECTIONS:
            if not parser.has_section(section):
                continue
            for key in NETWORK_KEYS:
                if parser.has_option(section, key):
                    found[key] = parser.get(section, key)
    return found


def hermetic_env(
    environ: Mapping[str, str] | None = None, *, pip_config: bool = True
) -> dict[str, str]:
    """An environment for pip / pip-compile / uv with no ambient index configuration.

    Every ``PIP_*`` and ``UV_*`` variable is dropped except network settings; pip's config files
    are disabled (``PIP_CONFIG_FILE=/dev/null``) and, with ``pip_config``, their network
    settings re-exported as ``PIP_*`` variables (for a pip process: uv reads neither, and a
    venv uv builds in has no pip, so ``uv pip`` children pass ``pip_config=False`` and the
    files are not read); ``COLUMNS``/``LINES`` are dropped (the output is parsed, not wrapped
    for a terminal).
    """
    source = dict(os.environ if environ is None else environ)
    keep = {"PIP_" + k.upper().replace("-", "_") for k in NETWORK_KEYS}
    keep |= {
        "UV_CACHE_DIR",
        "UV_NATIVE_TLS",
        "UV_HTTP_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_INSECURE_HOST",
    }
    env = {k: v for k, v in source.items() if not k.startswith(("PIP_", "UV_")) or k in keep}
    # The output is captured and parsed, never shown on a terminal: an exported width would make
    # uv wrap its error chain (a build backend's traceback included) at $COLUMNS.
    for name in ("COLUMNS", "LINES"):
        env.pop(name, None)
    for key, value in (_network_settings(source) if pip_config else {}).items():
        env.setdefault("PIP_" + key.upper().replace("-", "_"), value)
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["UV_NO_CONFIG"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def index_args(index: IndexOptions, project_dir: Path) -> list[str]:
    """pip command-line options for ``index``; find-links resolve against ``project_dir``."""
    args: list[str] = []
    if index.no_index:
        args.append("--no-index")
    else:
        args.extend(["--index-url", index.index_url or DEFAULT_INDEX_URL])
        for url in index.extra_index_urls:
            args.extend(["--extra-index-url", url])
    for link in index.find_links:
        args.extend(["--find-links", resolve_link(link, project_dir)])
    return args


def resolve_link(link: str, project_dir: Path) -> str:
    """A find-links entry: URLs unchanged, paths made absolute against ``project_dir``."""
    if "://" in link:
        return link
    return str((project_dir / Path(link).expanduser()).absolute())
