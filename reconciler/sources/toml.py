"""Load ``reconciler.toml`` into a validated :class:`DesiredState`.

Two readers, one answer. A well-formed file is read with the standard library's ``tomllib`` (the
plain TOML of a usual file by :mod:`~reconciler.sources.toml_plain`, without it) and
checked field by field against the raw classes below (the fast path a no-op ``plan`` takes).
Anything that does not fit exactly goes to the edge reader, tomlkit + cattrs, whose
path-addressed messages become the one-line errors (``reconciler.toml:3: plugins.foo: unknown key
'pyhton'``); so every error reads as it always did, and tomlkit and cattrs are imported only then
(and by ``add``/``remove``, which edit the document).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from reconciler import requirements
from reconciler.backends import INSTALLERS, RESOLVERS
from reconciler.errors import ConfigError, toml_position
from reconciler.lockformats import FORMAT_NAMES
from reconciler.models import DesiredState, IndexOptions, Plugin, Settings
from reconciler.sources import read_project_text, toml_plain
from reconciler.support.names import PLUGIN_NAME_RE, kind_of
from reconciler.support.redact import redact

PROJECT_FILE = "reconciler.toml"


#: The defaults of :class:`~reconciler.models.Settings`, the one place they are written.
_DEFAULT = Settings(Path(".venvs"), Path("lock"))

_REQUIRED: Any = object()  # a required field (attrs.NOTHING in the raw classes)
_LIST: Any = object()  # a fresh empty list (attrs.Factory(list) in the raw classes)

#: The fields of :class:`~reconciler.sources.toml_raw.RawSettings` and ``RawPlugin``
#: (attribute, type, default) for the fast reader, which builds no attrs class (three of them
#: cost ~2 ms of every plan's start-up); tests/test_config.py checks them against the classes.
_SETTINGS_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("venv_root", "str", str(_DEFAULT.venv_root)),
    ("lock_dir", "str", str(_DEFAULT.lock_dir)),
    ("python", "str", _DEFAULT.python),
    ("index_url", "str | None", _DEFAULT.index.index_url),
    ("extra_index_urls", "list[str]", _LIST),
    ("find_links", "list[str]", _LIST),
    ("no_index", "bool", _DEFAULT.index.no_index),
    ("installer", "str", _DEFAULT.installer),
    ("keep_generations", "int", _DEFAULT.keep_generations),
    ("resolver", "str", _DEFAULT.resolver),
    ("universal", "bool", _DEFAULT.universal),
    ("require_hashes", "bool", _DEFAULT.require_hashes),
    ("lock_format", "str", _DEFAULT.lock_format),
)
_PLUGIN_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("requirements", "list[str]", _REQUIRED),
    ("python", "str | None", None),
    ("index_url", "str | None", None),
    ("extra_index_urls", "list[str] | None", None),
    ("find_links", "list[str] | None", None),
    ("no_index", "bool | None", None),
    ("constraints", "list[str]", _LIST),
    ("pre", "bool", False),
    ("universal", "bool | None", None),
    ("lock_format", "str | None", None),
)


if TYPE_CHECKING:
    import cattrs
    import tomlkit.exceptions

    from reconciler.sources.toml_raw import RawPlugin, RawProject, RawSettings


@functools.cache
def _converter() -> cattrs.Converter:
    import attrs  # noqa: PLC0415 - errors only: the raw classes are attrs classes for cattrs
    from cattrs.gen import make_dict_structure_fn, override  # noqa: PLC0415 - errors only
    from cattrs.preconf.tomlkit import make_converter  # noqa: PLC0415 - start-up: errors only

    from reconciler.sources.toml_raw import (  # noqa: PLC0415 - errors only
        RawPlugin,
        RawProject,
        RawSettings,
    )

    conv = make_converter(forbid_extra_keys=True)

    def strict_str(value: object, _: object) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {kind_of(value)}")
        return value

    def strict_bool(value: object, _: object) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {kind_of(value)}")
        return value

    def strict_int(value: object, _: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {kind_of(value)}")
        return value

    def strict_str_list(value: object, _: object) -> list[str]:
        if not isinstance(value, list):
            raise TypeError(f"expected an array of strings, got {kind_of(value)}")
        return [strict_str(item, str) for item in value]

    def optional(hook: Any) -> Any:
        return lambda value, _: None if value is None else hook(value, _)

    conv.register_structure_hook_func(lambda t: t == list[str], strict_str_list)
    conv.register_structure_hook_func(lambda t: t == list[str] | None, optional(strict_str_list))
    conv.register_structure_hook_func(lambda t: t == str | None, optional(strict_str))
    conv.register_structure_hook_func(lambda t: t == bool | None, optional(strict_bool))
    conv.register_structure_hook(str, strict_str)
    conv.register_structure_hook(bool, strict_bool)
    conv.register_structure_hook(int, strict_int)
    for cls in (RawSettings, RawPlugin, RawProject):
        renames: dict[str, Any] = {
            a.name: override(rename=a.name.replace("_", "-"))
            for a in attrs.fields(cls)
            if "_" in a.name
        }
        conv.register_structure_hook(
            cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **renames)
        )
    return conv


def load(project_file: Path) -> DesiredState:
    """Read, parse and validate ``project_file``; errors name the file and line."""
    return parse(read_project_text(project_file, project_file.parent, project_file), project_file)


def parse(text: str, project_file: Path) -> DesiredState:
    """Parse the text of a ``reconciler.toml`` located at ``project_file``."""
    deep = _deep_keys(text)
    try:
        raw = None if deep else _fast_raw(text)
        if raw is None:
            raw = _edge_raw(text, project_file.name, recheck=not deep)
    except RecursionError:  # tomllib and tomlkit recurse per nested array or inline table
        raise ConfigError(
            "invalid TOML", file=project_file.name, cause="nested too deeply"
        ) from None
    return _validate(raw, text, project_file)


#: Dotted keys (``a.b.c = 1``, ``[a.b.c]``) with more dots than this go straight to tomlkit,
#: which refuses keys nested past 100 levels at once: tomllib's time grows with the square of
#: a key's depth (4 s at 10**4 levels, minutes and gigabytes at 10**5).
_FAST_MAX_DOTS = 100


def _deep_keys(text: str) -> bool:
    """True when a line of ``text`` holds more than :data:`_FAST_MAX_DOTS` dots outside quoted
    strings and comments (linear: only lines with that many dots at all are scanned)."""
    if text.count(".") <= _FAST_MAX_DOTS:
        return False
    return any(
        line.count(".") > _FAST_MAX_DOTS and _unquoted_dots(line) > _FAST_MAX_DOTS
        for line in text.split("\n")
    )


def _unquoted_dots(line: str) -> int:
    dots, quote, escaped = 0, "", False
    for char in line:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            break
        elif char == ".":
            dots += 1
    return dots


def _edge_raw(text: str, label: str, *, recheck: bool = True) -> RawProject:
    """tomlkit + cattrs: the reader whose messages are the errors (raises for bad input).
    ``recheck``: ask tomllib where a syntax error is (not for deeply dotted keys: see
    :data:`_FAST_MAX_DOTS`)."""
    import cattrs  # noqa: PLC0415 - only for files the fast path refused
    import tomlkit  # noqa: PLC0415 - start-up: unusual files only
    import tomlkit.exceptions  # noqa: PLC0415 - likewise

    from reconciler.sources.toml_raw import RawProject  # noqa: PLC0415 - likewise

    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise _syntax_error(text, label, exc, recheck=recheck) from exc
    try:
        raw: RawProject = _converter().structure(document.unwrap(), RawProject)
    except Exception as exc:  # cattrs raises ClassValidationError / ExceptionGroup trees
        messages = (
            cattrs.transform_error(exc, format_exception=_format_exception)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise _describe(messages[0], text, label) from exc
    return raw


class _Refused(Exception):
    """The fast reader does not take this file; the edge reader will explain why."""


def _fast_raw(text: str) -> RawProject | None:
    """The raw project when every key and type fits exactly, else None (a :class:`_Record`
    with the raw classes' attributes: the reading needs no attrs class). The plain TOML of a
    usual file is read without ``tomllib`` (:mod:`~reconciler.sources.toml_plain`)."""
    data = toml_plain.loads(text)
    if data is None:
        import tomllib  # noqa: PLC0415 - start-up: only for files the plain reader does not take

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
    try:
        settings = data.pop("settings", {})
        plugins = data.pop("plugins", {})
        if data or not isinstance(plugins, dict):
            raise _Refused
        record = _Record(
            settings=_fast_structure(settings, _fast_fields(_SETTINGS_FIELDS)),
            plugins={
                str(k): _fast_structure(v, _fast_fields(_PLUGIN_FIELDS)) for k, v in plugins.items()
            },
        )
        return cast("RawProject", record)
    except _Refused:
        return None


class _Record:
    """The fast reader's answer: plain attributes, as the raw class of the same fields has."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_FAST_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "list[str]": _is_str_list,
}


@functools.cache
def _fast_fields(
    table: tuple[tuple[str, str, Any], ...],
) -> tuple[tuple[str, str, Any, Any], ...]:
    """(attribute, key, default, type check) of each field of a table (memoised)."""
    return tuple(
        (name, name.replace("_", "-"), default, _FAST_CHECKS[kind.removesuffix(" | None")])
        for name, kind, default in table
    )


def _fast_structure(value: object, fields: tuple[tuple[str, str, Any, Any], ...]) -> _Record:
    """A record from a plain table, or :class:`_Refused` for any unknown key, missing required
    key or wrong type."""
    if not isinstance(value, dict):
        raise _Refused
    given = dict(value)
    values: dict[str, Any] = {}
    for name, key, default, check in fields:
        if key not in given:
            if default is _REQUIRED:
                raise _Refused
            values[name] = [] if default is _LIST else default
            continue
        item = given.pop(key)
        if not check(item):
            raise _Refused
        values[name] = item
    if given:
        raise _Refused
    return _Record(**values)


def _format_exception(exc: BaseException, type_: type | None) -> str:
    """cattrs's message for one leaf error, keeping the text of our own type checks."""
    if isinstance(exc, TypeError) and str(exc).startswith("expected "):
        return str(exc)
    import cattrs  # noqa: PLC0415 - start-up: errors only

    return cattrs.v.format_exception(exc, type_)


def _syntax_error(
    text: str, label: str, exc: tomlkit.exceptions.TOMLKitError, *, recheck: bool = True
) -> ConfigError:
    """``reconciler.toml:LINE:COL: invalid TOML: ...`` for text tomlkit refused.

    tomlkit names the offending key ("Key "a" already exists."); the standard library's parser,
    run only here (when ``recheck``), reports the line of a duplicate table exactly where
    tomlkit does not.
    """
    import tomllib  # noqa: PLC0415 - only needed for a broken file

    what, line, column = toml_position(exc)
    try:
        if recheck:
            tomllib.loads(text)
    except RecursionError:
        pass  # nested too deeply for tomllib: tomlkit's own place is the answer
    except tomllib.TOMLDecodeError as std:
        std_what, std_line, std_column = toml_position(std)
        if std_line is None:
            last = max(len(text.splitlines()), 1)
            return ConfigError(
                "invalid TOML", file=label, line=last, cause=f"{std_what} (at end of file)"
            )
        line, column = std_line, std_column
    return ConfigError("invalid TOML", file=label, line=line, column=column, cause=what)


#: Compiled by ``re`` on first use (errors only), not at every plan's start-up.
_PATH_PART = r"\.([A-Za-z0-9_-]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]"


def _describe(message: str, text: str, label: str) -> ConfigError:
    """Turn a cattrs message such as ``extra fields found (pyhton) @ $.plugins['x']`` into ours."""
    what, _, where = message.rpartition(" @ ")
    keys: list[str] = []
    for m in re.finditer(_PATH_PART, where.removeprefix("$")):
        if m.group(1) is not None:
            keys.append(m.group(1).replace("_", "-"))
        elif m.group(2) is not None:
            keys.append(m.group(2))
    extra = re.match(r"extra fields found \((.*)\)", what)
    if extra:
        names = [n.strip() for n in extra.group(1).split(",")]
        where_keys = [*keys, names[0]]
        plural = "s" if len(names) > 1 else ""
        what = f"unknown key{plural} {', '.join(repr(n) for n in names)}"
        return _at(label, text, where_keys, ".".join(keys) or "top level", what)
    if what.startswith("required field missing"):
        return _at(label, text, keys[:-1], ".".join(keys), "required key missing")
    what = re.sub(r"^invalid value for type, expected (\w+)", r"expected \1", what)
    return _at(label, text, keys, ".".join(keys), what)


def _at(label: str, text: str, keys: list[str], dotted: str, what: str) -> ConfigError:
    """A :class:`ConfigError` about the key path ``keys`` (its line found in ``text``)."""
    return ConfigError(what, file=label, line=locate(text, keys), key=dotted)


def locate(text: str, keys: list[str]) -> int | None:
    """Best-effort 1-based line of the key path ``keys`` in TOML ``text`` (None if not found)."""
    if not keys:
        return None
    table: list[str] = []
    best: int | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        header = re.match(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$", line)
        if header:
            table = _split_dotted(header.group(1))
            if table == keys:
                return number
            continue
        assignment = re.match(r"^((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=", line)
        if assignment:
            full = table + _split_dotted(assignment.group(1))
            if full == keys:
                return number
            if best is None and full[: len(keys)] == keys:
                best = number
            if best is None and keys[: len(full)] == full:
                best = number  # an inline table or array holding the key
    return best


def _split_dotted(dotted: str) -> list[str]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)", dotted)
    return [a or b or c for a, b, c in parts]


def _settings(s: RawSettings, text: str, project_file: Path) -> Settings:
    """The validated ``[settings]`` table."""
    label = project_file.name
    project_dir = project_file.parent
    for key, value, allowed in (
        ("installer", s.installer, INSTALLERS),
        ("resolver", s.resolver, RESOLVERS),
        ("lock-format", s.lock_format, FORMAT_NAMES),
    ):
        if value not in allowed:
            raise _at(
                label,
                text,
                ["settings", key],
                f"settings.{key}",
                f"must be one of {', '.join(allowed)}, not {value!r}",
            )
    if s.keep_generations not in (0, 1):
        raise _at(
            label,
            text,
            ["settings", "keep-generations"],
            "settings.keep-generations",
            f"must be 0 or 1, not {s.keep_generations}",
        )
    for key, value in (("python", s.python), ("venv-root", s.venv_root), ("lock-dir", s.lock_dir)):
        if not value.strip():
            raise _at(label, text, ["settings", key], f"settings.{key}", "must not be empty")
    return Settings(
        venv_root=_resolve(project_dir, s.venv_root),
        lock_dir=_resolve(project_dir, s.lock_dir),
        python=s.python,
        index=IndexOptions(
            index_url=s.index_url,
            extra_index_urls=tuple(s.extra_index_urls),
            find_links=tuple(s.find_links),
            no_index=s.no_index,
        ),
        installer=s.installer,
        keep_generations=s.keep_generations,
        resolver=s.resolver,
        universal=s.universal,
        require_hashes=s.require_hashes,
        lock_format=s.lock_format,
    )


def _validate(raw: RawProject, text: str, project_file: Path) -> DesiredState:
    label = project_file.name
    project_dir = project_file.parent
    settings = _settings(raw.settings, text, project_file)
    plugins: list[Plugin] = []
    seen: dict[str, str] = {}
    for name, raw_plugin in raw.plugins.items():
        keys = ["plugins", name]
        if not PLUGIN_NAME_RE.fullmatch(name):
            raise _at(
                label,
                text,
                keys,
                f"plugins.{name!r}",
                "invalid plugin name: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
            )
        folded = name.lower()
        if folded in seen:
            raise _at(
                label,
                text,
                keys,
                f"plugins.{name}",
                f"duplicate plugin name (differs from {seen[folded]!r} only by case)",
            )
        seen[folded] = name
        if raw_plugin.lock_format is not None and raw_plugin.lock_format not in FORMAT_NAMES:
            raise _at(
                label,
                text,
                [*keys, "lock-format"],
                f"plugins.{name}.lock-format",
                f"must be one of {', '.join(FORMAT_NAMES)}, not {raw_plugin.lock_format!r}",
            )
        if not raw_plugin.requirements:
            raise _at(
                label,
                text,
                [*keys, "requirements"],
                f"plugins.{name}.requirements",
                "must list at least one requirement",
            )
        for index, requirement in enumerate(raw_plugin.requirements):
            try:
                requirements.check(requirement)
            except ValueError as exc:
                first = str(exc)
                raise _at(
                    label,
                    text,
                    [*keys, "requirements"],
                    f"plugins.{name}.requirements[{index}]",
                    redact(f"invalid requirement {requirement!r}: {first}"),
                ) from exc
        for index, constraint in enumerate(raw_plugin.constraints):
            # the resolver reads it: a project file cannot name /etc/shadow (and see it quoted)
            local = (project_dir / Path(constraint).expanduser()).resolve()
            top = project_dir.resolve()
            if "://" not in constraint and local != top and top not in local.parents:
                raise _at(
                    label,
                    text,
                    [*keys, "constraints"],
                    f"plugins.{name}.constraints[{index}]",
                    f"{constraint!r} is outside the project",
                )
        python = raw_plugin.python if raw_plugin.python is not None else settings.python
        if not python.strip():
            raise _at(label, text, [*keys, "python"], f"plugins.{name}.python", "must not be empty")
        plugins.append(
            Plugin(
                name=name,
                requirements=tuple(raw_plugin.requirements),
                python=python,
                index=_plugin_index(raw_plugin, settings.index),
                constraints=tuple(raw_plugin.constraints),
                pre=raw_plugin.pre,
                universal=settings.universal
                if raw_plugin.universal is None
                else raw_plugin.universal,
                lock_format=raw_plugin.lock_format or settings.lock_format,
            )
        )
    if settings.venv_root == project_dir:
        raise ConfigError("settings.venv-root must not be the project directory itself", file=label)
    plugins.sort(key=lambda p: p.name)
    return DesiredState(project_file=project_file, settings=settings, plugins=tuple(plugins))


def _plugin_index(raw: RawPlugin, default: IndexOptions) -> IndexOptions | None:
    """The plugin's own index settings (its keys over ``[settings]``), None when it sets none."""
    if all(v is None for v in (raw.index_url, raw.extra_index_urls, raw.find_links, raw.no_index)):
        return None
    return IndexOptions(
        index_url=raw.index_url if raw.index_url is not None else default.index_url,
        extra_index_urls=default.extra_index_urls
        if raw.extra_index_urls is None
        else tuple(raw.extra_index_urls),
        find_links=default.find_links if raw.find_links is None else tuple(raw.find_links),
        no_index=default.no_index if raw.no_index is None else raw.no_index,
    )


def _resolve(project_dir: Path, value: str) -> Path:
    return Path(os.path.normpath(project_dir / Path(value).expanduser()))
