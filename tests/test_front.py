"""The click-free front (:mod:`reconciler.front`) and the click CLI (:mod:`reconciler.clickcli`)
cannot drift apart unseen: the front's option tables are click's, every generated command line
(odd and invalid ones too) either goes to click or gives exactly click's values, and the same
command run both ways prints and exits the same."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from helpers import Project, Result, run_cli_in_process
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler import clickcli, front, runner


def _kind(param: click.Parameter) -> tuple[Any, ...]:
    """click's type of ``param`` in the front's words; any type or setting the front does not
    model fails here (so a new kind of option cannot reach the front untranslated)."""
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        assert (param.is_bool_flag, param.count, param.secondary_opts) == (True, False, [])
        return front.FLAG
    if kind is click.STRING:
        return front.TEXT
    if isinstance(kind, click.IntRange | click.FloatRange):
        assert (kind.max, kind.min_open, kind.max_open, kind.clamp) == (None, False, False, False)
        return ("int" if isinstance(kind, click.IntRange) else "float", kind.min)
    if isinstance(kind, click.Path):
        settings = (kind.exists, kind.readable, kind.writable, kind.executable)
        assert settings == (False, True, False, False), param.name
        assert (kind.resolve_path, kind.allow_dash, kind.type) == (False, False, Path)
        return ("path", kind.file_okay, kind.dir_okay)
    if isinstance(kind, click.Choice):
        assert kind.case_sensitive, param.name
        return ("choice", tuple(kind.choices))
    raise AssertionError(f"{param.name}: a type the front does not parse: {kind!r}")


def _click_table(command: click.Command) -> list[tuple[Any, ...]]:
    """Each parameter click parses for ``command`` as the front declares one: name, flags,
    kind, multiple (or nargs=-1), plus what the front relies on being click's defaults."""
    rows = []
    for param in command.params:
        if param.name in {"help", "version"}:  # eager, exit at once: the front defers on them
            continue
        if isinstance(param, click.Argument):
            assert param.nargs == -1, param.name
            opts: tuple[str, ...] = ()
        else:
            assert isinstance(param, click.Option)
            assert param.nargs == 1, param.name
            assert param.prompt is None, param.name
            opts = tuple(param.opts)
            for opt in opts:  # a long --name or a short -x: the forms the front parses
                assert opt.startswith("--") or (len(opt) == 2 and opt[0] == "-"), opt
        assert param.callback is None, param.name
        assert not param.is_eager, param.name
        assert param.expose_value, param.name
        assert not param.required, param.name
        assert param.envvar is None, param.name  # an env var would give a value the front lacks
        rows.append((param.name, opts, _kind(param), param.multiple or param.nargs == -1))
    return rows


def _front_table(table: tuple[front.Param, ...]) -> list[tuple[Any, ...]]:
    return [(p.name, p.opts, p.kind, p.multiple) for p in table]


def test_the_front_knows_every_command_name() -> None:
    assert frozenset(clickcli.cli.commands) == front.NAMES
    assert set(front.COMMANDS) <= front.NAMES


def test_the_global_options_are_clicks() -> None:
    group = clickcli.cli
    assert _front_table(front.GLOBAL) == _click_table(group)
    assert group.context_settings == {"help_option_names": ["-h", "--help"]}
    assert not group.chain
    assert not group.allow_interspersed_args
    assert not group.ignore_unknown_options


@pytest.mark.parametrize("name", sorted(front.COMMANDS))
def test_the_option_table_is_clicks(name: str) -> None:
    """Adding, renaming or retyping an option of a hot command in clickcli.py without the front
    fails here."""
    command = clickcli.cli.commands[name]
    assert _front_table(front.COMMANDS[name]) == _click_table(command)
    assert command.context_settings == {}
    assert command.allow_interspersed_args
    assert not command.ignore_unknown_options
    assert not command.allow_extra_args
    assert command.callback is not None
    # the defaults: what click makes of the bare command is what the front makes
    assert front.parse([name]) == _click_parse([name])


def _click_parse(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """What click makes of ``argv``: the command, the group's and the command's ``ctx.params``;
    None when click would not run a command (a usage error, a refused value, help, version)."""
    group = clickcli.cli
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ctx = group.make_context("reconciler", list(argv))
            name, command, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
            assert name is not None
            assert command is not None
            sub = command.make_context(name, rest, parent=ctx)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        return None
    return name, ctx.params, sub.params


def _comparable(parsed: tuple[str, dict[str, Any], dict[str, Any]] | None) -> object:
    """``parsed`` with each value as its ``repr`` (``nan`` equals ``nan`` there), in any order."""
    if parsed is None:
        return None
    name, options, params = parsed
    return name, *({key: repr(value) for key, value in d.items()} for d in (options, params))


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An existing file and an existing directory (click.Path checks them)."""
    root = tmp_path_factory.mktemp("front")
    (root / "file").write_text("{}")
    (root / "dir").mkdir()
    return str(root / "file"), str(root / "dir")


#: Words that are no option of any command: plugin names, odd positionals, unknown options.
_WORDS = ["tap-a", "b", "-", "--", "x=y", "", "plan", "--help", "-h", "--version", "--nope", "-z"]
_WORDS += ["-qv", "-Uj4", "-j=2", "--check=1", "--json=", "--project=.", "rollback", "٣"]

#: Values by kind, each list about half valid, half what click refuses or reads oddly.
_NUMBERS = ["1", "4", " 2", "+3", "1_0", "٣", "0", "-1", "x", "", "1.5"]
_FLOATS = ["0", "1.5", "nan", "inf", "1e3", " 2 ", "-1", "-0.0", "x", ""]
_TEXTS = ["tap-a", "a=b", "", "-x", "--help", "plan", " "]


def _value_strategy(param: click.Parameter, places: tuple[str, str]) -> st.SearchStrategy[str]:
    kind = _kind(param)
    if kind[0] == "int":
        return st.sampled_from(_NUMBERS)
    if kind[0] == "float":
        return st.sampled_from(_FLOATS)
    if kind[0] == "choice":
        return st.sampled_from([*kind[1], *kind[1], "UV", "nope", ""])
    if kind[0] == "path":
        return st.sampled_from([*places, f"{places[0]}/x", "no-such-path", "", "-"])
    return st.one_of(st.sampled_from(_TEXTS), st.text(alphabet="ab-=_. 01", max_size=4))


@st.composite
def _argvs(draw: st.DrawFn, places: tuple[str, str]) -> list[str]:
    """A command line built from click's own option table: global options, a command (mostly a
    hot one), its options in every spelling (``--o v``, ``--o=v``, ``-ov``; now and then a
    missing value or a flag given one) with values of their kind (valid or not), plugin names,
    and now and then a word that is none of that."""
    group = clickcli.cli

    def option_tokens(command: click.Command) -> list[str]:
        params = [p for p in command.params if isinstance(p, click.Option)]
        if not params:  # remove, completion: a plugin name instead
            return ["tap-a"]
        param = draw(st.sampled_from(params))
        opt = draw(st.sampled_from(param.opts))
        odd = draw(st.integers(0, 9)) == 0
        if param.is_flag:
            return [f"{opt}={draw(st.sampled_from(['', '1']))}" if odd else opt]
        if odd:
            return [opt]  # a missing value, unless a word follows
        value = draw(_value_strategy(param, places))
        form = draw(st.sampled_from(["split", "split", "equals", "attached"]))
        if form == "equals" and opt.startswith("--"):
            return [f"{opt}={value}"]
        if form == "attached" and len(opt) == 2:
            return [f"{opt}{value}"]
        return [opt, value]

    argv: list[str] = []
    for _ in range(draw(st.integers(0, 2))):
        argv += option_tokens(group)
    name = draw(st.sampled_from([*front.COMMANDS] * 4 + sorted(group.commands) + ["nope"]))
    argv.append(name)
    command = group.commands.get(name, group.commands["plan"])
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["option"] * 5 + ["global", "plugin", "word"]))
        if kind == "option":
            argv += option_tokens(command)
        elif kind == "global":
            argv += option_tokens(group)
        elif kind == "plugin":
            argv.append(draw(st.sampled_from(["tap-a", "tap-b", places[0]])))
        else:
            argv.append(draw(st.sampled_from(_WORDS)))
    return argv


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_front_defers_or_parses_as_click_does(
    data: st.DataObject, places: tuple[str, str]
) -> None:
    argv = front.hoist(data.draw(_argvs(places)))
    parsed = front.parse(argv)
    event("parsed by the front" if parsed is not None else "deferred to click")
    if parsed is not None:
        assert _comparable(parsed) == _comparable(_click_parse(argv)), argv


@pytest.mark.parametrize(
    "argv",
    [
        ["plan"],
        ["--project", ".", "plan", "--detailed-exitcode"],
        ["--project=.", "-q", "plan", "tap-a", "--json", "-o", "out.json", "--verify"],
        ["plan", "--plugin-type", "loaders", "-v", "--no-color"],
        ["apply", "-j", "2", "--lock-timeout", "1.5", "--installer", "uv", "tap-a"],
        ["apply", "--find-links", "w", "--find-links=v", "--no-index", "--index-url", "u"],
        ["apply", "--plan", "plan.json", "-j3", "--debug"],
        ["lock", "-U", "-P", "attrs", "--upgrade-package=click", "--resolver=pip-tools"],
        ["lock", "--check", "tap-a", "--jobs", "4"],
        ["status", "--json", "--verify", "tap-a", "tap-b"],
    ],
)
def test_the_usual_forms_are_the_fronts(argv: list[str]) -> None:
    """The hot commands' usual forms do not go to click (the property above is not vacuous)."""
    hoisted = front.hoist(argv)
    assert front.parse(hoisted) is not None
    assert _comparable(front.parse(hoisted)) == _comparable(_click_parse(hoisted))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["plan", "--help"],
        ["plan", "-h"],
        ["-qv", "plan"],
        ["plan", "--jobs", "2"],
        ["apply", "-j", "0"],
        ["apply", "-j"],
        ["apply", "--installer", "UV"],
        ["lock", "--check=yes"],
        ["plan", "--", "tap-a"],
        ["rollback", "tap-a"],
        ["completion", "bash"],
    ],
)
def test_the_rest_is_clicks(argv: list[str]) -> None:
    assert front.parse(front.hoist(argv)) is None


def test_shell_completion_is_clicks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert front.parse(["plan"]) is not None
    monkeypatch.setenv(front.COMPLETE_VAR, "bash_complete")
    assert front.parse(["plan"]) is None


@contextlib.contextmanager
def _click_only() -> Iterator[None]:
    """Every command line goes to click (as before the front)."""
    saved = front.parse
    front.parse = lambda argv: None  # type: ignore[assignment]
    try:
        yield
    finally:
        front.parse = saved


def _both(project: Project, *args: str) -> tuple[Result, Result]:
    fronted = run_cli_in_process(project.root, *args)
    with _click_only():
        clicked = run_cli_in_process(project.root, *args)
    return fronted, clicked


@pytest.mark.parametrize(
    "args",
    [
        ("plan",),
        ("plan", "--json"),
        ("plan", "--detailed-exitcode", "tap-alpha"),
        ("plan", "no-such-plugin"),
        ("-q", "status"),
        ("status", "--json", "--verify"),
        ("apply",),
        ("apply", "--installer", "pip", "--find-links", "nowhere", "--no-index"),
        ("lock", "--check"),
        ("lock",),
        ("apply", "--plan", "missing.json"),
    ],
)
def test_the_same_command_prints_and_exits_the_same_both_ways(
    applied: Project, args: tuple[str, ...]
) -> None:
    fronted, clicked = _both(applied, *args)
    assert (fronted.code, fronted.out, fronted.err) == (clicked.code, clicked.out, clicked.err)
    assert "Traceback" not in fronted.err


def test_an_error_is_one_line_both_ways(tmp_path: Path) -> None:
    (tmp_path / "reconciler.toml").write_text("[plugins.x]\nrequirements = 'not a list'\n")
    fronted, clicked = _both(Project(tmp_path), "plan")
    assert fronted == clicked
    assert fronted.code == 1
    assert len(fronted.err_lines) == 1
    assert fronted.err_lines[0].startswith("error: ")


_CLOSED_STDOUT = """
import sys
from reconciler import cli, front
if sys.argv[1] == "click":
    front.parse = lambda argv: None
cli.main(sys.argv[2:])
"""


@pytest.mark.parametrize("way", ["front", "click"])
def test_a_closed_stdout_ends_quietly(applied: Project, way: str) -> None:
    """``reconciler status | head -0``: exit 1, no traceback (click's ``main`` does so; so does
    the front)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CLOSED_STDOUT, way, "--project", str(applied.root), "status"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("err", [False, True], ids=["stdout", "stderr"])
@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1"])
@pytest.mark.parametrize(
    ("text", "nl"),
    [
        ("plain", True),
        ("\x1b[31mred\x1b[0m \x1b[1mé\x1b[0m", True),
        ("é €", False),
        ("", True),
        ("", False),
        ("a\udcff", True),
    ],
)
def test_echo_writes_what_click_echo_writes(
    monkeypatch: pytest.MonkeyPatch, err: bool, encoding: str, text: str, nl: bool
) -> None:
    """The front's output (runner.echo) is byte for byte click.echo's: ANSI styles stripped
    off a terminal, UTF-8 under a stream misconfigured as ASCII."""
    written = []
    for echo in (click.echo, runner.echo):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", write_through=True)
        monkeypatch.setattr(sys, "stderr" if err else "stdout", stream)
        echo(text, err=err, nl=nl)
        written.append(raw.getvalue())
    assert written[0] == written[1]
