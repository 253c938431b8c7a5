"""Hermetic pip invocations: ambient index configuration out, network settings kept (and uv's
TLS settings dropped for a call that provably reaches no server and builds nothing:
:func:`needs_tls`)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from reconciler.models import IndexOptions
from reconciler.support.names import archive_name_version, canonical_name

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
#: provably reaches no server and builds nothing (:func:`needs_tls`) gets none of them.
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


def needs_tls(
    index: IndexOptions, sources: Iterable[str], project_dir: Path, *, resolves: bool = False
) -> bool:
    """Whether an installer or resolver call keeps the TLS settings (:data:`TLS_VARIABLES`):
    the one rule ``lock`` and ``apply`` use for uv. True when the call may reach a server or
    may build anything (a build's own downloads, e.g. a build requirement given by an https URL
    in a ``pyproject.toml`` or a ``setup.py`` that fetches, must trust what the user trusts,
    not uv's bundled roots).

    ``sources``: the call's requirement lines (as the installer gets them; ``project_dir``
    resolves relative find-links). ``resolves``: a resolve, which also looks up dependencies by
    names not given here. Conservative: the settings are dropped only when

    - every line is a requirement by name (no bare archive name) or a ``name @ URL`` / URL /
      path ending in ``.whl``: no editable, no VCS URL (``git+file:`` included), no local
      directory or sdist archive, no option, nothing this rule does not parse;
    - no index can be asked: ``no-index``, or (not a resolve) every line a wheel by URL;
    - no find-links entry or line names a URL other than a local file (``file:``,
      ``git+file:``);
    - where a line names a package (or the call resolves), every find-links entry is a readable
      directory and none holds a source distribution (a file ending in one of
      :data:`SDIST_SUFFIXES`, its project name parsed from the file name as the wheelhouse
      code does, canonicalised; one that does not parse counts for every name) of a package a
      line names (a resolve: of any package). Other files (wheels, a manifest) are not
      distributions an installer builds.

    A constraints or requirements file's content is not seen here: a caller that passes one
    must keep the settings. Find-links directories are listed, never opened
    (:func:`_sdist_names`).
    """
    names: set[str] = set()
    lines = list(sources)
    for line in lines:
        kind = _source_kind(line)
        if kind is None:
            continue  # blank or comment
        if kind == "build":
            return True
        if kind != "wheel":
            names.add(kind)
    if (names or resolves) and not index.no_index:
        return True
    if any(_names_a_server(text) for text in (*index.find_links, *lines)):
        return True
    if not names and not resolves:
        return False  # only wheels by URL: find-links are never looked at
    for link in index.find_links:
        sdists = _sdist_names(_link_dir(link, project_dir))
        if sdists is None or (sdists and (resolves or "" in sdists or names & sdists)):
            return True
    return False


#: What a distribution name is made of (PEP 508; letters and digits at both ends checked apart).
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
#: What may follow a name in a requirement by name: extras, version specifiers, white space.
_SPEC_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+*<>=!~,[]() \t"
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
#: Endings of a source distribution archive, as pip or uv take one from a find-links directory.
SDIST_SUFFIXES = (
    ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz",
    ".tar.lzma", ".tar.zst", ".tar",
)  # fmt: skip


def _source_kind(line: str) -> str | None:
    """What a requirement line asks of the installer: ``"build"`` (it may build something, or
    is not understood), ``"wheel"`` (a wheel named by URL or path), else the canonical name
    looked up (on an index or among find-links); None for a blank line or comment."""
    text = line.split(" --", 1)[0].strip()  # options after the requirement: --hash=...
    if not text or text.startswith("#"):
        return None
    if text.startswith("-"):
        return "build"  # -e (always built), or an option this rule does not know
    head, at, rest = text.partition("@")
    name, extras = _leading_name(head)
    if not at and name and not extras.split(";", 1)[0].strip(_SPEC_CHARS):
        if name.lower().endswith(SDIST_SUFFIXES):
            return "build"  # a bare archive name: pip takes an existing file of that name
        return canonical_name(name)  # a requirement by name (a marker after ``;``)
    if at and name and not extras.strip(_SPEC_CHARS):
        target = (rest.split() or [""])[0].split(";", 1)[0]  # ``name @ url ; marker``
    else:
        target = text.split(";", 1)[0].strip()  # a path or URL without a name
    target = target.lower().split("#", 1)[0].split("?", 1)[0]
    if target.startswith(_VCS_PREFIXES) or not target.endswith(".whl"):
        return "build"  # a VCS URL, a local directory, an sdist archive
    return "wheel"


def _leading_name(text: str) -> tuple[str, str]:
    """The distribution name ``text`` starts with (``""`` if none) and what follows it."""
    text = text.strip(" \t")
    end = 0
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    name = text[:end].rstrip("._-")  # letters and digits at both ends
    if not name or not name[0].isalnum():
        return "", text
    return name, text[len(name) :]


def _link_dir(link: str, project_dir: Path) -> str:
    """The local directory a find-links entry names (a server URL's is never listed: the call
    keeps the settings for the URL itself)."""
    if link.lower().startswith("file:"):
        from urllib.parse import unquote, urlsplit  # noqa: PLC0415 - start-up: file: find-links only

        return unquote(urlsplit(link).path)
    return resolve_link(link, project_dir)


def _sdist_names(directory: str) -> frozenset[str] | None:
    """The canonical names of the source distributions in ``directory`` (``""`` for one whose
    name does not parse); None when it is not a readable directory. One ``stat`` and, the
    first time the directory is seen as it is (its mtime), one ``listdir``."""
    try:
        stamp = Path(directory).stat().st_mtime_ns
    except OSError:
        return None
    return _listed_sdists(directory, stamp)


@functools.cache
def _listed_sdists(directory: str, stamp: int) -> frozenset[str] | None:
    """:func:`_sdist_names` of ``directory`` as of its mtime ``stamp`` (cached: ``apply`` asks
    once a venv)."""
    del stamp  # part of the cache key only: an sdist added later is seen
    try:
        files = os.listdir(directory)
    except OSError:
        return None
    names: set[str] = set()
    for file in files:
        lowered = file.lower()
        suffix = next((s for s in SDIST_SUFFIXES if lowered.endswith(s)), None)
        if suffix is None:
            continue  # a wheel, a manifest, an index page: nothing an installer builds
        # packaging parses .tar.gz and .zip names only; the stem is the same for every archive
        parsed = archive_name_version(file[: -len(suffix)] + ".tar.gz")
        names.add(canonical_name(parsed[0]) if parsed else "")
    return frozenset(names)


def hermetic_env(
    environ: Mapping[str, str] | None = None, *, pip_config: bool = True, tls: bool = True
) -> dict[str, str]:
    """An environment for pip / pip-compile / uv with no ambient index configuration.

    Every ``PIP_*`` and ``UV_*`` variable is dropped except network settings; pip's config files
    are disabled (``PIP_CONFIG_FILE=/dev/null``) and, with ``pip_config``, their network
    settings re-exported as ``PIP_*`` variables (for a pip process: uv reads neither, and a
    venv uv builds in has no pip, so ``uv pip`` children pass ``pip_config=False`` and the
    files are not read); ``COLUMNS``/``LINES`` are dropped (the output is parsed, not wrapped
    for a terminal). Without ``tls`` (a call that reaches no server and builds nothing, see
    :func:`needs_tls`) the :data:`TLS_VARIABLES` are dropped too.
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
