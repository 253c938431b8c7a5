"""Hermetic pip invocations: ambient index configuration out, network settings kept (and uv's
TLS settings dropped for a call that provably reaches no server: :func:`reaches_network`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
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
#: What uv reads to set up TLS at every start, whether or not it connects anywhere (``--offline``
#: does not skip it): each certificate of ``SSL_CERT_DIR`` and ``SSL_CERT_FILE`` parsed (~40-60M
#: instructions, more than a local resolve or install itself, where a system's whole CA directory
#: is named), the platform store (``UV_NATIVE_TLS``), a client certificate. A uv call that
#: provably reaches no server (:func:`reaches_network`) gets none of them.
TLS_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSL_CLIENT_CERT", "UV_NATIVE_TLS")
#: The URL schemes that name a local file, not a server (a requirement's ``file:`` URL, a local
#: git repository).
_LOCAL_SCHEMES = ("file", "git+file")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+-.")


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


def _names_a_server(text: str) -> bool:
    """Whether ``text`` (a requirement line, a find-links entry) holds a URL whose scheme is
    not a local file's: every ``://`` in it is looked at, so a hash, marker or second URL on
    the line cannot hide one."""
    text = text.lower()
    start = text.find("://")
    while start != -1:
        begin = start
        while begin and text[begin - 1] in _SCHEME_CHARS:
            begin -= 1
        if text[begin:start] not in _LOCAL_SCHEMES:
            return True
        start = text.find("://", start + 3)
    return False


def reaches_network(index: IndexOptions, sources: Iterable[str], *, by_name: bool = True) -> bool:
    """Whether an installer or resolver call may reach a server: the one rule ``lock`` and
    ``apply`` use to decide whether uv gets the TLS settings (:data:`TLS_VARIABLES`).

    ``sources``: the call's requirement lines (as the installer gets them). ``by_name``: the
    call may look a package up by name, on an index or among find-links (an index pin, a build
    dependency of a source it builds); without it (only wheels given by ``file:`` URL, nothing
    built) the index configured is never asked. Conservative: it reaches no server only when no
    index can be asked (``no-index``, or nothing looked up by name) and no find-links entry or
    source names a URL other than a local file (``file:``, ``git+file:``). Plain paths are local.
    A constraints or requirements file's content is not seen here: a caller that passes one
    must treat the call as reaching the network. Nor is what a local source's build does: a
    build requirement given by an https URL in its ``pyproject.toml``, or a build script that
    downloads, runs without the TLS settings (uv then trusts its bundled roots, Python the
    system store): such a build needs the network although every source named here is local.
    """
    if by_name and not index.no_index:
        return True
    return any(_names_a_server(text) for text in (*index.find_links, *sources))


def hermetic_env(
    environ: Mapping[str, str] | None = None, *, pip_config: bool = True, tls: bool = True
) -> dict[str, str]:
    """An environment for pip / pip-compile / uv with no ambient index configuration.

    Every ``PIP_*`` and ``UV_*`` variable is dropped except network settings; pip's config files
    are disabled (``PIP_CONFIG_FILE=/dev/null``) and, with ``pip_config``, their network
    settings re-exported as ``PIP_*`` variables (for a pip process: uv reads neither, and a
    venv uv builds in has no pip, so ``uv pip`` children pass ``pip_config=False`` and the
    files are not read); ``COLUMNS``/``LINES`` are dropped (the output is parsed, not wrapped
    for a terminal). Without ``tls`` (a call that reaches no server, see :func:`reaches_network`)
    the :data:`TLS_VARIABLES` are dropped too.
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
    for name in ("COLUMNS", "LINES") if tls else ("COLUMNS", "LINES", *TLS_VARIABLES):
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
