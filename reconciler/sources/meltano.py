"""``meltano.yml`` as the desired state: every pip-installed Meltano plugin is a plugin.

Read the way Meltano 4.x reads it (``project_files.py``, ``project_plugin.py``,
``plugin_install_service.py``, ``venv_service.py``):

- plugins of every pip-installed type (:data:`~reconciler.layouts.meltano.PIP_TYPES`; not
  ``transforms`` nor ``mappings``) from ``meltano.yml`` and its ``include_paths`` globs;
- ``pip_url`` from the plugin, else its parent: the project plugin it ``inherit_from``-s
  (without ``variant:``), else its lock file ``plugins/<type>/<name>--<variant>.lock``;
  ``python`` likewise, then the project's ``python``;
- the venv is ``<sys-dir>/<type>/<plugin_dir_name>/venv``: a child with no ``pip_url`` of its
  own (or the parent's) shares its parent's venv;
- ``pip_url`` is expanded with Meltano's pattern (``$VAR``, ``${VAR}``, ``\\$`` escapes) from
  the environment Meltano installs with, then ``shlex``-split; the fingerprint Meltano checks is
  ``sha256(" ".join(sorted(set(args)) + ["python:" + python]))`` (the python part only when a
  python is set), written into the venv as ``.meltano_plugin_fingerprint``.

Unlike Meltano, a variable that is not set is an error (Meltano silently uses ``""``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from reconciler import requirements as requirement_forms
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.layouts.meltano import PIP_TYPES, MeltanoLayout, MeltanoVenv, venv_id
from reconciler.models import PLUGIN_NAME_RE, DesiredState, IndexOptions, Plugin, Settings
from reconciler.support.redact import redact

PROJECT_FILE = "meltano.yml"
#: Plugin types Meltano does not install with pip into a venv of their own.
OTHER_TYPES = ("transforms", "mappings")
PYTHON_VERSION_VAR = "MELTANO__PYTHON_VERSION"
#: Meltano's own pattern (``meltano.core.utils.ENV_VAR_PATTERN``).
ENV_VAR_PATTERN = re.compile(
    r"""
    (?P<escape>\\)?  # escape
    \$  # starts with a '$'
    (?:
        {(?P<curly>\w+)} # ${VAR}
        |
        (?P<normal>[A-Z][A-Z0-9_]*) # $VAR
    )
    """,
    re.VERBOSE,
)
_SINGULAR = {
    "extractors": "extractor",
    "loaders": "loader",
    "orchestrators": "orchestrator",
    "transformers": "transformer",
    "files": "file",
    "utilities": "utility",
    "mappers": "mapper",
}

Fail = Callable[[str], ConfigError]


def fingerprint(args: list[str], python: str | None) -> str:
    """Meltano's ``venv_service.fingerprint``: what ``.meltano_plugin_fingerprint`` holds."""
    components = sorted(set(args))
    if python:
        components.append(f"python:{python}")
    return hashlib.sha256(" ".join(components).encode()).hexdigest()


class MissingVariable(Exception):
    """A ``$VAR`` in a value names a variable that is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expand(value: str, env: Mapping[str, str], *, strict: bool = True) -> str:
    """Meltano's ``expand_env_vars`` for one string; ``strict``: raise on an unset variable."""

    def replace(match: re.Match[str]) -> str:
        name = match["curly"] or match["normal"]
        if match["escape"]:
            return f"${{{name}}}" if match["curly"] else f"${name}"
        if name in env:
            return str(env[name])
        if strict:
            raise MissingVariable(name)
        return ""

    return ENV_VAR_PATTERN.sub(replace, value)


# --------------------------------------------------------------------------- YAML


@attrs.frozen
class _Where:
    """A place in a project file, for error messages: ``meltano.yml:12: plugins...: ...``."""

    label: str
    line: int | None
    key: str

    def error(self, message: str) -> ConfigError:
        prefix = f"{self.label}:{self.line}" if self.line else self.label
        return ConfigError(redact(f"{prefix}: {self.key}: {message}"))


def _read_yaml(path: Path, label: str) -> Any:
    from ruamel.yaml import YAML  # noqa: PLC0415 - only for Meltano projects
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read: {exc}") from exc
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{label}{line}: invalid YAML: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{label}:1: expected a mapping at the top level")
    return data


def _key_line(node: Any, key: object) -> int | None:
    """1-based line of ``key`` in the ruamel mapping ``node`` (None when unknown)."""
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _item_line(node: Any, index: int) -> int | None:
    try:
        return int(node.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


# --------------------------------------------------------------------------- plugins as written


@attrs.frozen
class _Entry:
    """One plugin entry of ``meltano.yml`` (or an included file), as written."""

    type: str
    name: str
    data: Mapping[str, Any]
    label: str
    line: int | None

    def where(self, key: str | None = None) -> _Where:
        line = _key_line(self.data, key) if key is not None else None
        dotted = f"plugins.{self.type}.{self.name}" + (f".{key}" if key else "")
        return _Where(self.label, line or self.line, dotted)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.where(key).error(f"expected a string, not {type(value).__name__}")
        return str(value)


def _entries(document: Mapping[str, Any], label: str) -> Iterator[_Entry]:
    plugins = document.get("plugins")
    if plugins is None:
        return
    if not isinstance(plugins, Mapping):
        raise _Where(label, _key_line(document, "plugins"), "plugins").error("expected a mapping")
    for plugin_type, items in plugins.items():
        key = f"plugins.{plugin_type}"
        line = _key_line(plugins, plugin_type)
        if plugin_type in OTHER_TYPES:
            continue
        if plugin_type not in PIP_TYPES:
            allowed = ", ".join((*PIP_TYPES, *OTHER_TYPES))
            raise _Where(label, line, key).error(f"unknown plugin type (one of {allowed})")
        if items is None:
            continue
        if not isinstance(items, list):
            raise _Where(label, line, key).error("expected a list of plugins")
        for index, item in enumerate(items):
            item_line = _item_line(items, index) or line
            if not isinstance(item, Mapping):
                raise _Where(label, item_line, f"{key}[{index}]").error("expected a mapping")
            name = item.get("name")
            if not isinstance(name, str) or not name:
                where = _Where(label, item_line, f"{key}[{index}].name")
                raise where.error("required key missing")
            yield _Entry(str(plugin_type), name, item, label, item_line)


def _include_paths(root: Path, meltano: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """``include_paths`` glob matches (``**`` included), inside the project, each once."""
    patterns = meltano.get("include_paths") or []
    where = _Where(PROJECT_FILE, _key_line(meltano, "include_paths"), "include_paths")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise where.error("expected a list of glob patterns")
    found: dict[Path, str] = {}
    resolved_root = root.resolve()
    for pattern in patterns:
        try:
            matches = sorted(root.glob(pattern))
        except (ValueError, NotImplementedError) as exc:
            raise where.error(f"invalid pattern {pattern!r}: {exc}") from exc
        for path in matches:
            if not path.is_file():
                continue
            try:
                rel = path.resolve().relative_to(resolved_root)
            except ValueError as exc:
                raise where.error(f"{path} is outside the project") from exc
            found.setdefault(path.resolve(), str(rel))
    return list(found.items())


# --------------------------------------------------------------------------- project


@attrs.frozen
class _Project:
    root: Path
    sys_dir: Path
    settings: Settings
    python_explicit: bool  # reconciler.toml sets settings.python
    entries: dict[tuple[str, str], _Entry]
    env: dict[str, str]  # what Meltano expands pip_url with (before the per-plugin part)
    project_python: str | None


def load(project_file: Path) -> DesiredState:
    """Read ``meltano.yml`` (and its includes, ``.env``, plugin lock files) into desired state."""
    return _desired(project_file, _read_project(project_file))


def _read_project(project_file: Path) -> _Project:
    root = project_file.parent.absolute()
    meltano = _read_yaml(project_file, PROJECT_FILE)
    settings, python_explicit = _toml_settings(root)
    entries: dict[tuple[str, str], _Entry] = {}
    documents = [(meltano, PROJECT_FILE)]
    for path, rel in _include_paths(root, meltano):
        if path != project_file.resolve():
            documents.append((_read_yaml(path, rel), rel))
    for document, label in documents:
        for entry in _entries(document, label):
            before = entries.get((entry.type, entry.name))
            if before is not None:
                raise entry.where().error(
                    f"duplicate plugin (also in {before.label}:{before.line or '?'})"
                )
            entries[(entry.type, entry.name)] = entry
    env = _install_env(root, meltano)
    sys_dir = Path(env["MELTANO_SYS_DIR_ROOT"])
    return _Project(
        root=root,
        sys_dir=sys_dir,
        settings=attrs.evolve(settings, venv_root=sys_dir),
        python_explicit=python_explicit,
        entries=entries,
        env=env,
        project_python=_project_python(meltano, env),
    )


def _toml_settings(root: Path) -> tuple[Settings, bool]:
    """``[settings]`` of a ``reconciler.toml`` beside ``meltano.yml`` (which must declare no
    plugins); defaults when there is none. Also whether it sets ``python``."""
    import tomlkit  # noqa: PLC0415

    from reconciler.sources import toml  # noqa: PLC0415

    path = root / toml.PROJECT_FILE
    if not path.is_file():
        return toml.parse("", path).settings, False
    state = toml.load(path)
    text = path.read_text(encoding="utf-8")
    document = tomlkit.parse(text)
    table = document.get("settings") or {}

    def refuse(keys: list[str], message: str) -> ConfigError:
        line = toml.locate(text, keys)
        where = f"{toml.PROJECT_FILE}:{line}" if line else toml.PROJECT_FILE
        return ConfigError(f"{where}: {'.'.join(keys[:2])}: {message}")

    if state.plugins or "plugins" in document:
        first = [p.name for p in state.plugins][:1]
        raise refuse(
            ["plugins", *first],
            f"not allowed beside {PROJECT_FILE} (the plugins come from {PROJECT_FILE}; "
            "keep only [settings] here)",
        )
    if "venv-root" in table:
        raise refuse(
            ["settings", "venv-root"],
            f"not allowed beside {PROJECT_FILE} (venvs live where Meltano looks for them: "
            ".meltano, or $MELTANO_SYS_DIR_ROOT)",
        )
    return state.settings, "python" in table


def _dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``.env`` (``export``, quotes and comments as python-dotenv)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f".env: cannot read: {exc}") from exc
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        values[key.strip()] = value
    return values


def _install_env(root: Path, meltano: Mapping[str, Any]) -> dict[str, str]:
    """What Meltano's ``plugin_installation_env`` holds before the plugin's own part.

    Lowest first: the environment with Meltano's project variables and ``meltano.yml``'s
    ``env:`` (expanded against the environment), then ``.env`` (expanded likewise).
    ``MELTANO__PYTHON_VERSION`` comes below all of these (see :func:`_plugin_env`).
    """
    environ = dict(os.environ)
    resolved = root.resolve()
    sys_dir = Path(environ.get("MELTANO_SYS_DIR_ROOT") or resolved / ".meltano")
    project_vars = {
        "MELTANO_PROJECT_ROOT": str(resolved),
        "MELTANO_ENVIRONMENT": "",
        "MELTANO_SYS_DIR_ROOT": str((resolved / sys_dir).resolve()),
    }
    top_env = meltano.get("env") or {}
    if not isinstance(top_env, Mapping):
        raise _Where(PROJECT_FILE, _key_line(meltano, "env"), "env").error("expected a mapping")
    settings_env = {**environ, **project_vars, **{str(k): str(v) for k, v in top_env.items()}}
    env = {k: expand(v, environ, strict=False) for k, v in settings_env.items()}
    for key, value in _dotenv(root / ".env").items():
        env[key] = expand(value, environ, strict=False)
    return env


def _project_python(meltano: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The project's ``python`` setting (``$MELTANO_PYTHON`` over ``meltano.yml``)."""
    if env.get("MELTANO_PYTHON"):
        return env["MELTANO_PYTHON"]
    value = meltano.get("python")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        where = _Where(PROJECT_FILE, _key_line(meltano, "python"), "python")
        raise where.error("expected a non-empty string")
    return value


# --------------------------------------------------------------------------- resolution


@attrs.frozen
class _Resolved:
    """One Meltano plugin with its inherited values."""

    entry: _Entry
    pip_url: str | None
    pip_url_where: _Where | None
    python: str | None
    dir_name: str


_Locked = tuple[Path, Mapping[str, Any]]


class _Resolver:
    """Follows ``inherit_from`` and plugin lock files the way Meltano does."""

    def __init__(self, project: _Project) -> None:
        self.project = project
        self.done: dict[tuple[str, str], _Resolved] = {}

    def resolve(self, entry: _Entry, chain: tuple[str, ...] = ()) -> _Resolved:
        key = (entry.type, entry.name)
        if key in self.done:
            return self.done[key]
        if entry.name in chain:
            path = " -> ".join((*chain, entry.name))
            raise entry.where("inherit_from").error(f"inherits from itself ({path})")
        own_pip_url = entry.text("pip_url")
        inherit_from = entry.text("inherit_from")
        if inherit_from == entry.name:
            inherit_from = None
        variant = entry.text("variant")
        parent: _Resolved | None = None
        locked: _Locked | None = None
        if inherit_from and not variant:
            parent_entry = self.project.entries.get((entry.type, inherit_from))
            if parent_entry is not None:
                parent = self.resolve(parent_entry, (*chain, entry.name))
        if parent is None and (inherit_from or not entry.text("namespace")):
            locked = self._lock_file(entry.type, inherit_from or entry.name, variant)
        pip_url = own_pip_url
        where = entry.where("pip_url") if own_pip_url is not None else None
        if pip_url is None and parent is not None:
            pip_url, where = parent.pip_url, parent.pip_url_where
        if pip_url is None and locked is not None:
            value = locked[1].get("pip_url")
            if isinstance(value, str):
                pip_url, where = value, _Where(_rel(self.project.root, locked[0]), None, "pip_url")
        python = entry.text("python")
        if python is None and parent is not None:
            python = parent.python
        if python is None and locked is not None and isinstance(locked[1].get("python"), str):
            python = str(locked[1]["python"])
        dir_name = entry.name
        if inherit_from and (own_pip_url is None or own_pip_url == _parent_url(parent, locked)):
            dir_name = parent.dir_name if parent is not None else inherit_from
        resolved = _Resolved(entry, pip_url, where, python, dir_name)
        self.done[key] = resolved
        return resolved

    def _lock_file(self, plugin_type: str, name: str, variant: str | None) -> _Locked | None:
        """``plugins/<type>/<name>--<variant>.lock`` (JSON), if it exists."""
        directory = self.project.root / "plugins" / plugin_type
        if variant:
            candidates = [directory / f"{name}--{variant}.lock"]
        else:
            candidates = [directory / f"{name}.lock"]
            candidates.extend(sorted(directory.glob(f"{_glob_escape(name)}--*.lock"))[:1])
        for path in candidates:
            if not path.is_file():
                continue
            rel = _rel(self.project.root, path)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(f"{rel}: not a Meltano plugin lock file: {exc}") from exc
            if not isinstance(data, dict):
                raise ConfigError(f"{rel}: not a Meltano plugin lock file (not an object)")
            return path, data
        return None


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _parent_url(parent: _Resolved | None, locked: _Locked | None) -> object:
    if parent is not None:
        return parent.pip_url
    return None if locked is None else locked[1].get("pip_url")


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- pip arguments


@attrs.frozen
class PipArgs:
    """A plugin's ``pip install`` arguments read as reconciler settings."""

    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False


_VALUED = {
    "-e": "editable",
    "--editable": "editable",
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
}
_FLAGS = {"--no-index": "no-index", "--pre": "pre"}


@attrs.define
class _Args:
    """Accumulates pip arguments while reading (frozen into :class:`PipArgs`)."""

    requirements: list[str] = attrs.Factory(list)
    constraints: list[str] = attrs.Factory(list)
    index_url: str | None = None
    extra_index_urls: list[str] = attrs.Factory(list)
    find_links: list[str] = attrs.Factory(list)
    no_index: bool = False
    pre: bool = False

    def frozen(self) -> PipArgs:
        return PipArgs(
            tuple(self.requirements),
            tuple(self.constraints),
            self.index_url,
            tuple(self.extra_index_urls),
            tuple(self.find_links),
            self.no_index,
            self.pre,
        )


def _split_option(token: str) -> tuple[str, str | None] | None:
    """``(option, inline value)`` for an option token, None for a requirement token."""
    if token.startswith("--"):
        option, sep, value = token.partition("=")
        return option, value if sep else None
    if token.startswith("-") and len(token) > 1:
        if len(token) > 2 and token[:2] in _VALUED:
            return token[:2], token[2:]
        return token, None
    return None


def read_pip_args(tokens: list[str], root: Path, fail: Fail) -> PipArgs:
    """Turn ``shlex``-split pip arguments into requirements and index/constraint settings.

    ``fail(message)`` makes the error to raise (it names the file, line and key). ``-r FILE``
    is read relative to ``root`` (the project root, where Meltano runs pip).
    """
    args = _Args()
    _read_tokens(tokens, root, root, fail, args, ())
    return args.frozen()


def _read_tokens(
    tokens: list[str], root: Path, base: Path, fail: Fail, args: _Args, seen: tuple[Path, ...]
) -> None:
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        split = _split_option(token)
        if split is None:
            args.requirements.append(_requirement(token, fail))
            continue
        option, value = split
        if option in _FLAGS:
            if value is not None:
                raise fail(f"option {option} takes no value")
            args.no_index = args.no_index or option == "--no-index"
            args.pre = args.pre or option == "--pre"
            continue
        kind = _VALUED.get(option)
        if kind is None:
            raise fail(f"unsupported pip option {token!r} (reconciler reads {_supported()})")
        if value is None:
            if position >= len(tokens):
                raise fail(f"option {option} needs a value")
            value = tokens[position]
            position += 1
        if kind == "requirement":
            _read_requirements_file(value, root, base, fail, args, seen)
        else:
            _option(kind, value, fail, args)


def _option(kind: str, value: str, fail: Fail, args: _Args) -> None:
    """Record one valued option other than ``-r``."""
    if kind == "editable":
        args.requirements.append(_requirement(f"-e {value}", fail))
    elif kind == "constraint":
        args.constraints.append(value)
    elif kind == "index-url":
        args.index_url = value
    elif kind == "extra-index-url":
        args.extra_index_urls.append(value)
    else:
        args.find_links.append(value)


def _supported() -> str:
    return ", ".join(sorted({*_VALUED, *_FLAGS}, key=lambda o: (o.lstrip("-"), o)))


def _requirement(token: str, fail: Fail) -> str:
    """One requirement in pip's spelling (a trailing ``;`` pip ignores is dropped)."""
    text = token.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    try:
        requirement_forms.check(text)
    except ValueError as exc:
        raise fail(f"invalid requirement {text!r}: {exc}") from exc
    return text


def _read_requirements_file(
    name: str, root: Path, base: Path, fail: Fail, args: _Args, seen: tuple[Path, ...]
) -> None:
    """A ``-r`` file: requirement lines and option lines, as pip reads them."""
    path = Path(name) if Path(name).is_absolute() else base / name
    label = _rel(root, path)
    if path.resolve() in seen:
        raise fail(f"-r {name}: includes itself")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"-r {name}: cannot read {label}: {getattr(exc, 'strerror', exc)}") from exc
    for number, line in _logical_lines(text):

        def line_fail(message: str, number: int = number) -> ConfigError:
            return ConfigError(redact(f"{label}:{number}: {message}"))

        if line.startswith("-"):
            try:
                tokens = shlex.split(line)
            except ValueError as exc:
                raise line_fail(f"cannot split: {exc}") from exc
            _read_tokens(tokens, root, path.parent, line_fail, args, (*seen, path.resolve()))
            continue
        requirement = re.split(r"\s+--?[a-z]", line, maxsplit=1)[0]
        args.requirements.append(_requirement(requirement, line_fail))


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, line)`` with ``\\`` continuations joined and comments dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate([*text.splitlines(), ""], start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        line = re.sub(r"(^|\s+)#.*$", "", "".join(pending)).strip()  # pip joins as is
        pending = []
        if line:
            yield start, line


# --------------------------------------------------------------------------- Meltano's python


def meltano_python(sys_dir: Path, env: Mapping[str, str]) -> Path | None:
    """The interpreter Meltano runs on: that of ``<sys-dir>/run/bin`` (the ``meltano`` that last
    activated this project), else of ``meltano`` on ``PATH`` (read from its ``#!`` line)."""
    candidates = [sys_dir / "run" / "bin"]
    on_path = shutil.which("meltano", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    for script in candidates:
        try:
            with script.open("rb") as handle:
                first = handle.readline(512)
        except OSError:
            continue
        if first.startswith(b"#!"):
            words = first[2:].decode("utf-8", "replace").split()
            if words and Path(words[0]).is_absolute() and Path(words[0]).name != "env":
                return Path(words[0])
    return None


def _version_of(python: Path, project_dir: Path) -> str | None:
    """``X.Y`` of ``python``: from its venv's ``pyvenv.cfg``, else by probing it (cached)."""
    cfg = python.parent.parent / "pyvenv.cfg"
    try:
        for line in cfg.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in ("version", "version_info"):
                return ".".join(value.strip().split(".")[:2])
    except (OSError, UnicodeDecodeError):
        pass
    from reconciler.support import interpreters  # noqa: PLC0415

    try:
        return interpreters.resolve(str(python), project_dir).major_minor
    except ReconcilerError:
        return None


# --------------------------------------------------------------------------- desired state


def _desired(project_file: Path, project: _Project) -> DesiredState:
    resolver = _Resolver(project)
    resolved = [resolver.resolve(entry) for entry in project.entries.values()]
    meltano_py = meltano_python(project.sys_dir, project.env)
    default_python = (
        project.settings.python
        if project.python_explicit or meltano_py is None
        else str(meltano_py)
    )
    cache: list[str] = []

    def python_version() -> str:
        """Meltano's ``MELTANO__PYTHON_VERSION``: the ``X.Y`` of the interpreter it runs on."""
        if not cache:
            found = _version_of(meltano_py, project.root) if meltano_py is not None else None
            if found is None:
                from reconciler.support import interpreters  # noqa: PLC0415

                found = interpreters.resolve(default_python, project.root).major_minor
            cache.append(found)
        return cache[0]

    notes: list[str] = []
    venvs: dict[tuple[str, str], list[_Resolved]] = {}
    for item in resolved:
        if item.pip_url is None:
            notes.append(
                f"{item.entry.where('name').label}: plugin {item.entry.name!r} "
                f"({item.entry.type}) skipped: no pip_url in meltano.yml, its plugin lock "
                "file or its parent"
            )
            continue
        venvs.setdefault((item.entry.type, item.dir_name), []).append(item)
    taken: dict[str, int] = {}
    for _, dir_name in venvs:
        taken[dir_name] = taken.get(dir_name, 0) + 1
    plugins: list[Plugin] = []
    declared: dict[str, MeltanoVenv] = {}
    aliases: dict[str, set[str]] = {}
    for (plugin_type, dir_name), members in sorted(venvs.items()):
        owner = next((m for m in members if m.entry.name == dir_name), members[0])
        if not PLUGIN_NAME_RE.match(dir_name):
            raise owner.entry.where("name").error(
                "not a name reconciler can manage (letters, digits, '.', '_', '-'; "
                "at most 64, starting with a letter or digit)"
            )
        pid = venv_id(plugin_type, dir_name, taken)
        plugin, print_ = _plugin(pid, owner, project, default_python, python_version)
        plugins.append(plugin)
        declared[pid] = MeltanoVenv(plugin_type, dir_name, print_)
        for member in members:
            aliases.setdefault(member.entry.name, set()).add(pid)
            aliases.setdefault(f"{plugin_type}/{member.entry.name}", set()).add(pid)
    return DesiredState(
        project_file=project_file,
        settings=attrs.evolve(project.settings, python=default_python),
        plugins=tuple(sorted(plugins, key=lambda p: p.name)),
        layout=MeltanoLayout(project.sys_dir, declared),
        aliases=tuple(sorted((a, tuple(sorted(ids))) for a, ids in aliases.items())),
        notes=tuple(notes),
    )


def _plugin(
    pid: str,
    item: _Resolved,
    project: _Project,
    default_python: str,
    python_version: Callable[[], str],
) -> tuple[Plugin, str]:
    """The reconciler plugin of one Meltano venv and its Meltano fingerprint."""
    entry = item.entry
    assert item.pip_url is not None  # noqa: S101 - plugins without one are skipped
    where = item.pip_url_where or entry.where("pip_url")
    python = item.python or project.project_python
    env = _plugin_env(entry, project, python_version, item.pip_url)
    try:
        expanded = expand(item.pip_url, env)
    except MissingVariable as exc:
        raise where.error(
            f"plugin {entry.name!r}: environment variable {exc.name!r} is not set "
            "(Meltano would silently use an empty string)"
        ) from exc
    try:
        tokens = shlex.split(expanded)
    except ValueError as exc:
        raise where.error(f"plugin {entry.name!r}: cannot split pip_url: {exc}") from exc

    def fail(message: str) -> ConfigError:
        return where.error(f"plugin {entry.name!r}: {message}")

    args = read_pip_args(tokens, project.root, fail)
    if not args.requirements:
        raise fail("pip_url names no requirement")
    index = None
    if args.index_url or args.extra_index_urls or args.find_links or args.no_index:
        default = project.settings.index
        index = IndexOptions(
            index_url=args.index_url if args.index_url is not None else default.index_url,
            extra_index_urls=args.extra_index_urls or default.extra_index_urls,
            find_links=args.find_links or default.find_links,
            no_index=args.no_index or default.no_index,
        )
    plugin = Plugin(
        name=pid,
        requirements=args.requirements,
        python=python or default_python,
        index=index,
        constraints=args.constraints,
        pre=args.pre,
        universal=project.settings.universal,
        lock_name=f"{entry.type}/{item.dir_name}",
    )
    return plugin, fingerprint(tokens, python)


def _plugin_env(
    entry: _Entry, project: _Project, python_version: Callable[[], str], pip_url: str
) -> dict[str, str]:
    """Meltano's ``plugin_installation_env`` for ``entry`` (lowest first).

    ``MELTANO__PYTHON_VERSION`` (Meltano: its own interpreter's ``X.Y``) is looked up only when
    ``pip_url`` mentions it and nothing else sets it.
    """
    env: dict[str, str] = {}
    if PYTHON_VERSION_VAR not in project.env and PYTHON_VERSION_VAR in pip_url:
        env[PYTHON_VERSION_VAR] = python_version()
    env.update(project.env)
    singular = _SINGULAR[entry.type].upper()
    env[f"MELTANO_{singular}_NAME"] = entry.name
    env[f"MELTANO_{singular}_NAMESPACE"] = entry.text("namespace") or entry.name.replace("-", "_")
    variant = entry.text("variant")
    if variant:
        env[f"MELTANO_{singular}_VARIANT"] = variant
    own = entry.data.get("env") or {}
    if isinstance(own, Mapping):
        for key, value in own.items():
            env[str(key)] = expand(str(value), project.env, strict=False)
    return env
