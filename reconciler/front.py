"""The command line's front: ``plan``, ``apply``, ``lock`` and ``status`` in their usual forms,
parsed without importing click.

Why a second parser when the stack says click: issue 20 gives a no-op ``plan`` of 20 venvs
``python -c pass`` + 60 ms, and click spent ~49M of the ~325M instructions such a plan ran above
``python -c pass``: importing click, on top of what attrs already loads, is ~37M (~10 ms of the
60 ms on this machine when idle, ~18 ms of CPU when busy); building every command and option
object of the click CLI and parsing with them, the rest. Without it: 361.5M -> 312.7M
instructions (no-op apply 380.1M -> 331.2M, ``lock`` 435.2M -> 399.0M); a no-op plan, a no-op
apply and a lock import no click module (``tests/test_startup.py``).

So the front reads ``argv`` itself only when it is a form it fully understands, and then makes
exactly the values click would (:data:`GLOBAL`, :data:`COMMANDS`: click's ``ctx.params``) for
the same code click calls (:mod:`reconciler.runner`). Anything else -- ``--help``,
``--version``, a typo, an unknown option, a value click would refuse, a missing value, ``--``,
bundled short flags, shell completion, every other command -- returns ``None``: the click CLI
(:mod:`reconciler.clickcli`), unchanged, handles it and stays the one definition of the
interface and of every usage message. ``tests/test_front.py`` keeps the two equal: the option
tables compared with click's, and generated argvs (odd and invalid ones too) parsed both ways.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from reconciler.backends import INSTALLERS, RESOLVERS


class Param:
    """One option (``opts`` its flags) or, with no ``opts``, the command's PLUGIN arguments.

    ``kind``: ``("flag",)``, ``("text",)``, ``("int", min)``, ``("float", min)``,
    ``("path", file_okay, dir_okay)`` or ``("choice", choices)`` -- click's types as used here.
    """

    __slots__ = ("default", "kind", "multiple", "name", "opts")

    def __init__(
        self,
        name: str,
        opts: tuple[str, ...],
        kind: tuple[Any, ...],
        *,
        multiple: bool = False,
        default: object = None,
    ) -> None:
        self.name = name
        self.opts = opts
        self.kind = kind
        self.multiple = multiple or not opts  # the PLUGIN arguments: nargs=-1
        self.default = () if self.multiple else False if kind == FLAG else default


FLAG, TEXT = ("flag",), ("text",)
_JOBS = ("int", 1)
_FILE = ("path", True, False)  # a file, not a directory (click.Path(dir_okay=False))
_ANY_PATH = ("path", True, True)

#: The group's options (``cli``); ``--version`` and ``--help`` are click's.
GLOBAL = (
    Param("project", ("--project",), _ANY_PATH),
    Param("quiet", ("-q", "--quiet"), FLAG),
    Param("verbose", ("-v", "--verbose"), FLAG),
    Param("no_color", ("--no-color",), FLAG),
    Param("debug", ("--debug",), FLAG),
)

_PLUGIN_TYPE = Param("plugin_type", ("--plugin-type",), TEXT)
_PLUGINS = Param("plugins", (), TEXT)
_VERIFY = Param("verify", ("--verify",), FLAG)

#: The commands the front parses, each option as click declares it (``--help`` is click's).
COMMANDS: dict[str, tuple[Param, ...]] = {
    "lock": (
        _PLUGIN_TYPE,
        _PLUGINS,
        Param("check", ("--check",), FLAG),
        Param("upgrade", ("--upgrade", "-U"), FLAG),
        Param("upgrade_packages", ("--upgrade-package", "-P"), TEXT, multiple=True),
        Param("jobs", ("--jobs", "-j"), _JOBS),
        Param("resolver", ("--resolver",), ("choice", RESOLVERS)),
    ),
    "plan": (
        _PLUGIN_TYPE,
        _PLUGINS,
        Param("as_json", ("--json",), FLAG),
        Param("out", ("-o", "--out"), _FILE),
        Param("detailed_exitcode", ("--detailed-exitcode",), FLAG),
        _VERIFY,
    ),
    "apply": (
        _PLUGIN_TYPE,
        Param("args", (), TEXT),
        Param("plan_file", ("--plan",), _FILE),
        Param("jobs", ("--jobs", "-j"), _JOBS),
        Param("lock_timeout", ("--lock-timeout",), ("float", 0), default=0.0),
        Param("installer", ("--installer",), ("choice", INSTALLERS)),
        Param("index_url", ("--index-url",), TEXT),
        Param("find_links", ("--find-links",), _ANY_PATH, multiple=True),
        Param("no_index", ("--no-index",), FLAG),
        _VERIFY,
    ),
    "status": (
        _PLUGIN_TYPE,
        Param("as_json", ("--json",), FLAG),
        _VERIFY,
        _PLUGINS,
    ),
}

#: Every command of the click CLI (where the global options may follow the command).
NAMES = frozenset(
    {"lock", "plan", "apply", "rollback", "status", "run", "add", "remove", "fetch", "export"}
    | {"sbom", "audit", "completion"}
)

#: The environment variable of click's shell completion for ``reconciler``.
COMPLETE_VAR = "_RECONCILER_COMPLETE"

_GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "--no-color", "--debug"})


def hoist(argv: list[str]) -> list[str]:
    """``argv`` with the global options given after the command moved before it, so
    ``reconciler apply -q`` means ``reconciler -q apply`` (as Meltano's and uv's options go).

    Stops at ``--``; ``run`` is left as it is (what follows its PLUGIN belongs to the script).
    """
    index, position = 0, None
    while index < len(argv):
        arg = argv[index]
        if arg == "--project":
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        position = index
        break
    if position is None or argv[position] not in NAMES or argv[position] == "run":
        return argv
    moved: list[str] = []
    rest: list[str] = []
    index = position + 1
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest.extend(argv[index:])
            break
        if arg in _GLOBAL_FLAGS or arg.startswith("--project="):
            moved.append(arg)
        elif arg == "--project" and index + 1 < len(argv):
            moved.extend(argv[index : index + 2])
            index += 1
        else:
            rest.append(arg)
        index += 1
    return [*argv[:position], *moved, argv[position], *rest]


class _Defer(Exception):
    """Not a form the front parses: the click CLI's."""


def parse(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``(command, global values, command values)`` for a hoisted ``argv``, each as click's
    ``ctx.params`` would be, or None when the click CLI must handle it."""
    if os.environ.get(COMPLETE_VAR):
        return None
    try:
        raw, index = _options(argv, 0, GLOBAL, interspersed=False)
        if index >= len(argv) or argv[index] not in COMMANDS:
            return None
        command = argv[index]
        table = COMMANDS[command]
        values = _values(GLOBAL, raw)
        params = _values(table, _options(argv, index + 1, table, interspersed=True)[0])
    except _Defer:
        return None
    return command, values, params


def _options(
    argv: list[str], index: int, table: tuple[Param, ...], *, interspersed: bool
) -> tuple[dict[str, list[str]], int]:
    """The raw strings given for each parameter (by name) from ``argv[index:]``, as click's
    parser collects them, and where the options stop (the command, without ``interspersed``)."""
    flags = {opt: param for param in table for opt in param.opts}
    raw: dict[str, list[str]] = {}
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            raise _Defer
        if arg[:1] != "-" or arg == "-":  # a positional argument (``-`` is one too)
            if not interspersed:
                return raw, index - 1
            raw.setdefault("", []).append(arg)
            continue
        explicit = None
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            explicit = value if eq else None
        elif len(arg) > 2:  # -j4: a value-taking short option with its value attached
            name, explicit = arg[:2], arg[2:]
        else:
            name = arg
        param = flags.get(name)
        if param is None:
            raise _Defer  # unknown here (--help, --version, a typo): click says what it is
        if param.kind == FLAG:
            if explicit is not None:
                raise _Defer  # --check=1, bundled -qv: click's
            raw.setdefault(param.name, []).append("")
            continue
        if explicit is None:
            if index >= len(argv):
                raise _Defer  # a missing value: click's usage error
            explicit = argv[index]
            index += 1
        raw.setdefault(param.name, []).append(explicit)
    return raw, index


def _values(table: tuple[Param, ...], raw: dict[str, list[str]]) -> dict[str, Any]:
    """Each parameter's value as click converts it (the last one given, unless ``multiple``);
    any value click would refuse defers."""
    values: dict[str, Any] = {}
    for param in table:
        given = raw.get(param.name if param.opts else "")
        if not given:
            values[param.name] = param.default
        elif param.kind == FLAG:
            values[param.name] = True
        elif param.multiple:
            values[param.name] = tuple(_convert(param.kind, value) for value in given)
        else:
            values[param.name] = _convert(param.kind, given[-1])
    return values


def _convert(kind: tuple[Any, ...], value: str) -> Any:
    tag = kind[0]
    if tag == "text":
        return value
    if tag == "choice":
        if value not in kind[1]:
            raise _Defer
        return value
    if tag == "path":
        return _path(value, file_okay=kind[1], dir_okay=kind[2])
    try:
        number = int(value) if tag == "int" else float(value)
    except ValueError:
        raise _Defer from None
    if number < kind[1]:
        raise _Defer
    return number


def _path(value: str, *, file_okay: bool, dir_okay: bool) -> Path:
    """``click.Path(path_type=Path)``'s checks: a path that exists must be of an allowed kind
    and readable; one that does not is taken as it is."""
    try:
        st = os.stat(value)  # noqa: PTH116 - what click.Path.convert calls
    except OSError:
        return Path(value)
    except ValueError:  # an embedded NUL: click's own error
        raise _Defer from None
    if not file_okay and stat.S_ISREG(st.st_mode):
        raise _Defer
    if not dir_okay and stat.S_ISDIR(st.st_mode):
        raise _Defer
    if not os.access(value, os.R_OK):
        raise _Defer
    return Path(value)
