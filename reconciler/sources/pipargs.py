"""pip's install arguments (requirements, ``-r``/``-c`` files, index options) read as settings.

Source-neutral: any source whose plugins are written as pip arguments (Meltano's ``pip_url``)
turns them into requirements and index settings here; ``fail(message)`` builds the error that
names the source's file, line and key.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler import requirements as requirement_forms
from reconciler.errors import ConfigError
from reconciler.support.files import display_path, read_text_in
from reconciler.support.redact import quoted, redact
from reconciler.support.values import frozen

Fail = Callable[[str], ConfigError]


@frozen
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


class _Args:
    """Accumulates pip arguments while reading (frozen into :class:`PipArgs`)."""

    __slots__ = (
        "constraints",
        "extra_index_urls",
        "find_links",
        "index_url",
        "no_index",
        "pre",
        "requirements",
    )

    def __init__(self) -> None:
        self.requirements: list[str] = []
        self.constraints: list[str] = []
        self.index_url: str | None = None
        self.extra_index_urls: list[str] = []
        self.find_links: list[str] = []
        self.no_index = False
        self.pre = False

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
        elif kind == "constraint" and "://" not in value:
            _inside_project(
                value, Path(value) if Path(value).is_absolute() else base / value, root, fail
            )
            _option(kind, value, fail, args)
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
        raise fail(f"invalid requirement {quoted(text)}: {exc}") from exc
    return text


def _read_requirements_file(
    name: str, root: Path, base: Path, fail: Fail, args: _Args, seen: tuple[Path, ...]
) -> None:
    """A ``-r`` file: requirement lines and option lines, as pip reads them."""
    path = Path(name) if Path(name).is_absolute() else base / name
    label = display_path(root, path)
    if path.resolve() in seen:
        raise fail(f"-r {name}: includes itself")
    _inside_project(name, path, root, fail)
    try:
        text = read_text_in(path, root)
    except UnicodeDecodeError as exc:
        raise fail(f"-r {name}: cannot read {label}: not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise fail(f"-r {name}: cannot read {label}: {exc.strerror or exc}") from exc
    for number, line in _logical_lines(text):

        def line_fail(message: str, number: int = number) -> ConfigError:
            return ConfigError(redact(message), file=label, line=number)

        if line.startswith("-"):
            try:
                tokens = shlex.split(line)
            except ValueError as exc:
                raise line_fail(f"cannot split: {exc}") from exc
            _read_tokens(tokens, root, path.parent, line_fail, args, (*seen, path.resolve()))
            continue
        requirement = re.split(r"\s+--?[a-z]", line, maxsplit=1)[0]
        args.requirements.append(_requirement(requirement, line_fail))


def _inside_project(name: str, path: Path, root: Path, fail: Fail) -> None:
    """A ``-r``/``-c`` file must resolve inside the project: a project file cannot make
    reconciler (or the resolver it runs) read ``/etc/shadow`` and quote it in an error."""
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and top not in resolved.parents:
        raise fail(f"{name}: outside the project (only files inside {root} are read)")


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
