"""Correct on real hosts (issue 10): file modes under a real umask, other accounts reading what
reconciler wrote, ``run`` with the venv's environment, signals and temporary files.

Everything is real: the CLI runs as a subprocess with a real umask, other accounts are real
(``setpriv`` to ``nobody``, or root without its file-permission capabilities), venvs are built by
the real installers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    EXPECTED_OUTPUT,
    MANY_PLUGINS,
    MARKER,
    PLUGINS,
    Project,
    Result,
    add_plugin,
    copy_example,
)

SETPRIV = shutil.which("setpriv")
NOBODY = 65534
#: Root without the capabilities that bypass file permissions: an account that cannot read a
#: file its mode forbids (works for a root test runner, where chmod alone proves nothing).
NO_DAC = ("--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search")


def run_as(
    project: Path,
    *args: str,
    umask: int | None = None,
    prefix: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Run the CLI as a subprocess with a real ``umask`` (and an optional command prefix)."""
    completed = subprocess.run(
        [*prefix, sys.executable, "-m", "reconciler", "--project", str(project), *args],
        capture_output=True,
        text=True,
        cwd=cwd or project,
        env={**os.environ, **(env or {})},
        umask=-1 if umask is None else umask,
        timeout=300,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def ok_as(project: Path, *args: str, **kwargs: object) -> Result:
    """:func:`run_as`, exit 0 required."""
    result = run_as(project, *args, **kwargs)  # type: ignore[arg-type]
    assert result.code == 0, result.describe()
    assert "Traceback" not in result.err, result.describe()
    return result


def mode(path: Path) -> int:
    """Permission bits of ``path`` (not following a symlink at the end)."""
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every account can traverse (pytest's own tmp dirs are 0700)."""
    base = Path(tempfile.mkdtemp(prefix="reconciler-hosts-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def live_generation(project: Project, plugin: str) -> Path:
    """The generation directory ``.venvs/<plugin>`` points at."""
    return project.venv(plugin).resolve()


# --- 1. file modes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_written_files_get_the_permissions_the_umask_gives(
    shared_dir: Path, umask: int, file_mode: int, dir_mode: int
) -> None:
    """Locks, markers, plan files, a new reconciler.toml and generations follow the umask."""
    project = copy_example(shared_dir / "project")
    project.root.chmod(0o755)
    fresh = shared_dir / "fresh"
    ok_as(fresh, "add", "tap-x", "tap-alpha==1.0.0", umask=umask, cwd=shared_dir)
    ok_as(project.root, "lock", umask=umask)
    ok_as(project.root, "plan", "-o", "plan.json", umask=umask)
    ok_as(project.root, "apply", umask=umask)

    written = [
        fresh / "reconciler.toml",
        project.root / "plan.json",
        *(project.lock(p) for p in PLUGINS),
        *(live_generation(project, p) / MARKER for p in PLUGINS),
        *(live_generation(project, p) / "pyvenv.cfg" for p in PLUGINS),
        project.venv_root / ".reconciler.lock",
    ]
    for path in written:
        assert mode(path) == file_mode, f"{path}: {oct(mode(path))}, want {oct(file_mode)}"
    directories = [
        fresh,
        project.root / "lock",
        project.venv_root,
        project.venv_root / ".generations",
        *(live_generation(project, p).parent for p in PLUGINS),
        *(live_generation(project, p) for p in PLUGINS),
        *(live_generation(project, p) / "bin" for p in PLUGINS),
    ]
    for path in directories:
        assert mode(path) == dir_mode, f"{path}: {oct(mode(path))}, want {oct(dir_mode)}"

    if SETPRIV is None:
        pytest.skip("setpriv is not installed: cannot check what another account reads")
    as_nobody = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    for path in written:
        read = subprocess.run([*as_nobody, "cat", str(path)], capture_output=True, check=False)
        if umask & 0o004:
            assert read.returncode != 0, f"{path} readable by others under umask {oct(umask)}"
        else:
            assert read.returncode == 0, f"another account cannot read {path}: {read.stderr!r}"


def test_an_existing_file_keeps_its_mode_when_rewritten(applied: Project) -> None:
    """A lock, reconciler.toml and a marker rewritten in place keep the mode someone gave them."""
    project = applied
    lock = project.lock("tap-beta")
    lock.chmod(0o604)
    project.toml.chmod(0o600)
    marker = live_generation(project, "tap-beta") / MARKER
    marker.chmod(0o640)

    project.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])
    before = lock.read_text(encoding="utf-8")
    project.ok("lock", "tap-beta")
    assert lock.read_text(encoding="utf-8") != before, "the lock was rewritten"
    assert mode(lock) == 0o604
    project.ok("add", "tap-new", "tap-alpha==1.0.0")
    assert "tap-new" in project.toml.read_text(encoding="utf-8")
    assert mode(project.toml) == 0o600
    project.ok("remove", "tap-new")
    project.ok("apply", "tap-beta")
    assert project.dists("tap-beta")["demo-extra"] == "1.0.0"
    marker = live_generation(project, "tap-beta") / MARKER
    assert json.loads(marker.read_text(encoding="utf-8"))["status"] == "complete"
    assert mode(marker) == 0o640


@pytest.mark.skipif(SETPRIV is None, reason="setpriv is not installed")
def test_unreadable_marker_is_reported_as_unreadable_with_the_reason(applied: Project) -> None:
    """An account that cannot read a marker is told so, not that the venv is corrupt."""
    assert SETPRIV is not None
    marker = live_generation(applied, "tap-alpha") / MARKER
    marker.chmod(0o000)
    prefix = (SETPRIV, *NO_DAC)
    result = run_as(applied.root, "plan", "--json", prefix=prefix)
    assert result.code == 0, result.describe()
    entry = next(c for c in json.loads(result.out)["changes"] if c["plugin"] == "tap-alpha")
    assert entry["reasons"] == ["state marker unreadable (Permission denied)"], entry
    refused = run_as(applied.root, "run", "tap-alpha", prefix=prefix)
    assert refused.code == 1, refused.describe()
    assert "state marker unreadable (Permission denied)" in refused.err
    assert "corrupt" not in refused.err

    marker.chmod(0o644)
    marker.write_text("{ not json", encoding="utf-8")
    entry = applied.change("tap-alpha")
    assert entry["reasons"] == ["corrupt state marker"], entry


# --- 3. run: arguments and environment ------------------------------------------------------------

ECHO_SOURCE = '''"""Fixture plugin: prints its argv and the environment its own tools depend on."""

import json
import re
import os
import shutil
import signal
import socket
import sys


def main() -> int:
    """Print argv, VIRTUAL_ENV, PATH, PYTHONHOME and which python/tap-echo PATH finds."""
    print(json.dumps({
        "argv": sys.argv[1:],
        "VIRTUAL_ENV": os.environ.get("VIRTUAL_ENV"),
        "PATH": os.environ.get("PATH"),
        "PYTHONHOME": os.environ.get("PYTHONHOME"),
        "which_python": shutil.which("python"),
        "which_self": shutil.which("tap-echo"),
        "prefix": sys.prefix,
    }))
    return int(os.environ.get("ECHO_EXIT", "0"))


if __name__ == "__main__":
    raise SystemExit(main())
'''


def load_make_wheels() -> object:
    """``fixtures/make_wheels.py`` as a module (its deterministic wheel writer)."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(
        "make_wheels", Path(__file__).resolve().parents[1] / "fixtures" / "make_wheels.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_wheels"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def echo_project(project: Project) -> Project:
    """The example project plus ``tap-echo``, whose console script prints argv and env."""
    make_wheels: Any = load_make_wheels()
    wheelhouse = project.root / "echo-wheels"
    wheelhouse.mkdir()
    dist = make_wheels.Dist(
        name="tap-echo",
        version="1.0.0",
        summary="Fixture plugin printing argv and environment",
        script=True,
        module_source=ECHO_SOURCE,
    )
    make_wheels.write_wheel(dist, wheelhouse)
    with project.edit() as doc:
        doc["settings"]["find-links"] = ["wheels", "echo-wheels"]
        add_plugin(doc, "tap-echo", ["tap-echo==1.0.0"])
    project.ok("lock")
    project.ok("apply", "tap-echo")
    return project


def test_run_passes_args_without_the_separator_in_the_venv_environment(
    echo_project: Project,
) -> None:
    """``run P -- ARGS`` gives ARGS as written, VIRTUAL_ENV and the venv's bin first on PATH."""
    project = echo_project
    venv = project.venv("tap-echo")
    path = os.environ["PATH"]
    env = {"VIRTUAL_ENV": "/some/other/venv"}
    cases = {
        ("--", "--about", "--config", "x y.json"): ["--about", "--config", "x y.json"],
        ("--about",): ["--about"],
        ("--", "--", "-v"): ["--", "-v"],  # only the first separator is reconciler's
        (): [],
    }
    for args, expected in cases.items():
        result = project.ok("run", "tap-echo", *args, env=env)
        seen = json.loads(result.out)
        assert seen["argv"] == expected, (args, seen)
        assert seen["VIRTUAL_ENV"] == str(venv)
        assert seen["PATH"] == f"{venv / 'bin'}:{path}"
        assert seen["PYTHONHOME"] is None
        assert seen["which_python"] == str(venv / "bin" / "python")
        assert seen["which_self"] == str(venv / "bin" / "tap-echo")
        assert Path(seen["prefix"]).resolve() == venv.resolve()
    module = project.ok("run", "-m", "tap_echo.__init__", "tap-echo", "--", "a", env=env)
    assert json.loads(module.out)["argv"] == ["a"]
    assert json.loads(module.out)["VIRTUAL_ENV"] == str(venv)
    failing = project.run("run", "tap-echo", "--", "x", env={**env, "ECHO_EXIT": "3"})
    assert failing.code == 3, failing.describe()
    assert json.loads(failing.out)["argv"] == ["x"]


# --- 6. staleness that means something ------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({"index-url": "https://pypi.org/simple/"}, id="default-index-written-out"),
        pytest.param({"find-links": ["wheels/"]}, id="trailing-slash"),
        pytest.param({"no-index": True, "index-url": "https://u:t0k3n@x.example/s"}, id="no-index"),
    ],
)
def test_settings_that_resolve_the_same_keep_locks_fresh(
    project: Project, edit: dict[str, object]
) -> None:
    with project.edit() as doc:
        for key, value in edit.items():
            doc["settings"][key] = value
    result = project.run("lock", "--check")
    assert result.code == 0, result.describe()
    assert "All 3 locks are fresh." in result.out


def test_rotating_an_index_token_keeps_locks_fresh(project: Project) -> None:
    with project.edit() as doc:
        doc["settings"]["no-index"] = False
        doc["settings"]["index-url"] = "https://user:token-1@127.0.0.1:9/simple"
    stamped = {p: project.lock(p).read_text(encoding="utf-8") for p in PLUGINS}
    # Re-stamp the locks for the token-1 settings without resolving: what `lock` would write.
    from reconciler.commands.project import load_project  # noqa: PLC0415
    from reconciler.lockfile import inputs_digest  # noqa: PLC0415

    loaded = load_project(project.root)
    for plugin in loaded.desired.plugins:
        digest = inputs_digest(
            plugin, loaded.interpreters[plugin.name].major_minor, loaded.desired.index_for(plugin)
        )
        lines = stamped[plugin.name].splitlines(keepends=True)
        project.lock(plugin.name).write_text(digest.header() + "\n" + "".join(lines[1:]))
    project.ok("lock", "--check")
    with project.edit() as doc:
        doc["settings"]["index-url"] = "https://user:token-2@127.0.0.1:9/simple/"
    rotated = project.run("lock", "--check")
    assert rotated.code == 0, rotated.describe()
    assert "token" not in rotated.out + rotated.err


def test_requirement_name_spelling_keeps_the_lock_fresh(project: Project) -> None:
    project.set_requirements("tap-alpha", ["TAP_Alpha==1.0.0"])
    assert project.run("lock", "--check").code == 0


def test_hand_edited_lock_that_contradicts_the_requirements_is_stale(applied: Project) -> None:
    """A pin the declared specifier rejects, or a declared package missing: stale, named."""
    project = applied
    lock = project.lock("tap-alpha")
    text = lock.read_text(encoding="utf-8")
    assert "tap-alpha==1.0.0" in text
    lock.write_text(text.replace("tap-alpha==1.0.0", "tap-alpha==1.1.0"), encoding="utf-8")
    reason = "tap-alpha==1.0.0 not satisfied (lock pins tap-alpha 1.1.0)"
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert f"tap-alpha: stale ({reason})" in check.out
    for command in (("plan",), ("apply",), ("run", "tap-alpha")):
        refused = project.run(*command)
        assert refused.code == 1, refused.describe()
        assert reason in refused.err, refused.describe()
    assert project.dists("tap-alpha")["tap-alpha"] == "1.0.0", "nothing was installed"

    project.ok("lock")
    assert "tap-alpha==1.0.0" in lock.read_text(encoding="utf-8")

    gamma = project.lock("target-gamma")
    kept: list[str] = []
    dropping = False
    for line in gamma.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line[:1].isspace():  # a new entry starts: drop target-gamma and its hash lines
            dropping = line.startswith("target-gamma==")
        if not dropping:
            kept.append(line)
    gamma.write_text("".join(kept), encoding="utf-8")
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert "target-gamma: stale (target-gamma missing from the lock)" in check.out


# --- 7. what people see ---------------------------------------------------------------------------


class Screen:
    """A minimal terminal: enough of VT100 to replay what rich's live display writes."""

    CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")

    def __init__(self) -> None:
        self.lines: list[list[str]] = [[]]
        self.row = 0
        self.col = 0

    def _line(self) -> list[str]:
        while len(self.lines) <= self.row:
            self.lines.append([])
        return self.lines[self.row]

    def feed(self, text: str) -> None:
        """Interpret ``text``: printable characters, CR, LF, cursor moves and line erases."""
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b":
                match = self.CSI.match(text, i)
                if match:
                    self._control(match.group(1), match.group(2))
                    i = match.end()
                    continue
                i += 2  # another escape (e.g. charset selection): skip
                continue
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self.row += 1
                self.col = 0
            elif char >= " ":
                line = self._line()
                line.extend(" " * (self.col - len(line) + 1))
                line[self.col] = char
                self.col += 1
            i += 1

    def _control(self, params: str, command: str) -> None:
        number = int(params) if params.isdigit() else None
        if command == "A":
            self.row = max(0, self.row - (number or 1))
        elif command == "B":
            self.row += number or 1
        elif command == "G":
            self.col = (number or 1) - 1
        elif command == "K":
            line = self._line()
            if number in (None, 0):
                del line[self.col :]
            elif number == 2:
                line.clear()
        # colours (m), cursor visibility (h/l) and the rest change no text

    def text(self) -> list[str]:
        """The screen's lines, trailing blanks removed."""
        lines = ["".join(line).rstrip() for line in self.lines]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def test_screen_replays_cursor_movement() -> None:
    screen = Screen()
    screen.feed("a row\r\nold 1\r\nold 2\r\x1b[2K\x1b[1A\x1b[2Knew 1\r\nnew 2\r\ndone\r\n")
    assert screen.text() == ["a row", "new 1", "new 2", "done"]


def test_live_display_ends_with_one_final_row_per_plugin_and_the_summary(
    many_project: Project,
) -> None:
    """On a terminal, what stays on screen: the plan, one finished row per plugin, the summary."""
    from test_ui import SUMMARY, run_in_pty  # noqa: PLC0415

    code, raw = run_in_pty(many_project.root, "apply", "--jobs", "4")
    assert code == 0, raw
    screen = Screen()
    screen.feed(raw)
    lines = screen.text()
    plugins = sorted(MANY_PLUGINS)
    plan_end = next(i for i, line in enumerate(lines) if line.startswith("Plan: "))
    assert (
        lines[plan_end]
        == f"Plan: {len(plugins)} to create, 0 to upgrade, 0 to reinstall, 0 to remove."
    )
    rows = lines[plan_end + 1 : -1]
    assert [row.split()[0] for row in rows] == plugins, "\n".join(lines)
    for row in rows:
        assert re.fullmatch(r"\S+\s+create done in \d+\.\ds\s+\d+\.\ds", row), "\n".join(lines)
    assert SUMMARY.match(lines[-1]), "\n".join(lines)


def _columns(line: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", line)]


@pytest.mark.parametrize("name", ["a", "a-plugin-with-a-name-longer-than-its-path-column-x"])
def test_status_counts_what_plan_counts_and_aligns_for_any_name(
    applied: Project, name: str
) -> None:
    """A locked setuptools is counted by status as by plan; columns line up under the header."""
    project = applied  # the example's venvs already built: apply builds only the new one
    make_wheels: Any = load_make_wheels()
    wheelhouse = project.root / "boot-wheels"
    wheelhouse.mkdir()
    make_wheels.write_wheel(
        make_wheels.Dist(
            name="setuptools",
            version="99.0",
            summary="Fixture stand-in for a locked bootstrap package",
            module_source='"""Not the real setuptools."""\n',
        ),
        wheelhouse,
    )
    with project.edit() as doc:
        doc["settings"]["find-links"] = ["wheels", "boot-wheels"]
        add_plugin(doc, name, ["tap-alpha==1.0.0", "setuptools==99.0"])
    project.ok("lock")
    planned = project.change(name)
    assert len(planned["install"]) == 3, planned
    project.ok("apply")
    assert project.dists(name)["setuptools"] == "99.0"

    lines = project.ok("status").out.splitlines()
    header = _columns(lines[0])
    assert [cell for _, _, cell in header] == ["PLUGIN", "PATH", "PYTHON", "PKGS", "LOCK", "DRIFT"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {name, *PLUGINS}
    for line in rows.values():
        cells = _columns(line)[:6]
        for index, ((start, end, _), (cell_start, cell_end, _)) in enumerate(
            zip(header, cells, strict=True)
        ):
            if index == 3:  # PKGS: numbers right-aligned under the header
                assert cell_end == end, f"misaligned PKGS:\n{lines[0]}\n{line}"
            else:
                assert cell_start == start, f"misaligned column {index}:\n{lines[0]}\n{line}"
    assert _columns(rows[name])[3][2] == "3", rows[name]
    assert json.loads(project.ok("status", "--json").out)["plugins"][0]["packages"] == 3


def test_a_version_decrease_reads_as_a_downgrade(applied: Project) -> None:
    applied.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])
    applied.ok("lock", "tap-beta")
    plan = applied.ok("plan").out
    assert "~ tap-beta   upgrade     demo-extra 2.0.0 -> 1.0.0 (downgrade)" in plan, plan
    entry = applied.change("tap-beta")
    assert entry["reasons"] == ["demo-extra 2.0.0 -> 1.0.0 (downgrade)"]
    assert entry["install"] == [{"name": "demo-extra", "version": "1.0.0", "from": "2.0.0"}]
    applied.set_requirements("tap-beta", ["tap-beta"])
    applied.ok("lock", "tap-beta")
    applied.ok("apply")
    assert "(downgrade)" not in applied.ok("plan").out


def test_upgrade_package_not_in_any_selected_lock_is_an_error(project: Project) -> None:
    """``lock -P NAME`` names NAME when no selected plugin has it, and changes nothing."""
    before = {p: project.lock(p).read_bytes() for p in PLUGINS}
    result = project.run("lock", "-P", "no-such-package")
    assert result.code == 1, result.describe()
    assert result.err_lines == [
        "error: --upgrade-package no-such-package: not in the lock of any selected plugin "
        "(tap-alpha, tap-beta, target-gamma)"
    ], result.describe()
    selected = project.run("lock", "tap-alpha", "-P", "demo-extra")
    assert selected.code == 1, selected.describe()
    assert "demo-extra" in selected.err
    assert "(tap-alpha)" in selected.err
    assert {p: project.lock(p).read_bytes() for p in PLUGINS} == before
    # Any spelling of a locked name; only the plugins whose lock has it are re-resolved.
    spelled = project.ok("lock", "-P", "Demo_Extra")
    resolving = [line.split(":")[0] for line in spelled.out.splitlines() if ": resolving" in line]
    assert resolving == ["tap-beta"], spelled.out


def _pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """``name -> (version, hashes)`` of a hashed pip-compile lock."""
    from reconciler.lockfile import parse  # noqa: PLC0415

    lock = parse(path.stem, path, path.read_text(encoding="utf-8"))
    return {p.name: (p.version, frozenset(p.hashes)) for p in lock.packages}


def test_the_documented_install_from_source_gives_uv() -> None:
    """README's from-source line installs a hashed lock that includes the uv extra, with the
    same pins and hashes the dev venv (built by make test from lock/dev.txt) is tested with."""
    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    line = "pip install --require-hashes -r lock/requirements-uv.txt && pip install --no-deps ."
    assert line in readme
    base = _pins(repo / "lock" / "requirements.txt")
    with_uv = _pins(repo / "lock" / "requirements-uv.txt")
    dev = _pins(repo / "lock" / "dev.txt")
    assert set(with_uv) == {*base, "uv"}
    for name, pin in with_uv.items():
        assert pin[1], f"{name} is not hashed"
        assert dev[name] == pin, f"{name}: requirements-uv.txt and dev.txt disagree"
        if name in base:
            assert base[name] == pin
    makefile = (repo / "Makefile").read_text(encoding="utf-8")
    assert "--extra uv -o lock/requirements-uv.txt pyproject.toml" in makefile


# --- 5. signals and temporary files ---------------------------------------------------------------


class StallingIndex:
    """A real HTTP endpoint that accepts connections and never answers: pip, uv and pip-compile
    sit in a network read until they are stopped (their own timeouts are 15 s and more)."""

    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/simple"
        self.accepted = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._connections.append(connection)
            self.accepted.set()

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._server.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def stalling_index() -> Iterator[StallingIndex]:
    index = StallingIndex()
    try:
        yield index
    finally:
        index.close()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{entry}/stat").read_text(encoding="utf-8")
        except OSError:
            continue
        fields = stat_line.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still run (zombies count as gone)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1]
        except OSError:
            continue
        if state.split()[0] != "Z":
            living.add(pid)
    return living


def wait_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    """Wait up to ``seconds`` for ``pids`` to exit; return those still alive."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def start(project: Project, tmpdir: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI as a child with its own ``TMPDIR`` (signals go to this pid only)."""
    tmpdir.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--project", str(project.root), *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )


def stalled_children(proc: subprocess.Popen[str], index: StallingIndex) -> set[int]:
    """Wait until a child of ``proc`` is inside a request to ``index``; return the children."""
    assert index.accepted.wait(120), "no installer or resolver reached the index"
    time.sleep(0.3)  # let the other jobs reach it too
    children = descendants(proc.pid)
    assert children, "the index was reached, so a child runs"
    assert proc.poll() is None
    return children


def scratch_entries(project: Project) -> list[str]:
    """What is in ``.venvs/.reconciler/tmp`` (absent counts as empty)."""
    base = project.venv_root / ".reconciler" / "tmp"
    return sorted(os.listdir(base)) if base.is_dir() else []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_lock_and_its_resolvers_leaving_nothing(
    unlocked_project: Project, stalling_index: StallingIndex, tmp_path: Path, signum: int
) -> None:
    """SIGTERM/SIGINT to ``lock`` while pip-compile waits on the network: exit 130 at once,
    pip-compile gone, no lock written, nothing in TMPDIR or the scratch area."""
    project = unlocked_project
    with project.edit() as doc:
        doc["settings"]["no-index"] = False
        doc["settings"]["index-url"] = stalling_index.url
    tmpdir = tmp_path / "tmp"
    proc = start(project, tmpdir, "lock", "--jobs", "2")
    children = stalled_children(proc, stalling_index)
    signalled = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - signalled
    assert proc.returncode == 130, f"{out}\n{err}"
    assert took < 8, f"lock took {took:.1f}s to stop"
    assert "Traceback" not in err, err
    assert "error: lock interrupted" in err, err
    assert not wait_gone(children, 5), "pip-compile outlived lock"
    assert not list((project.root / "lock").glob("*.txt")), "no lock may be written"
    assert sorted(os.listdir(tmpdir)) == []
    assert scratch_entries(project) == []
    assert not project.venv_root.exists(), "lock created the venv root only for its scratch"


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_sigterm_stops_apply_and_its_installers_leaving_every_venv_old(
    applied: Project, stalling_index: StallingIndex, tmp_path: Path, installer: str
) -> None:
    """SIGTERM to ``apply`` while the installers wait on the network: stopped within seconds,
    installers terminated, builds rolled back, nothing left in TMPDIR or the scratch area."""
    project = applied
    for plugin in PLUGINS:  # every venv needs a rebuild: reinstall, built beside the live one
        (live_generation(project, plugin) / MARKER).write_text("{ corrupt", encoding="utf-8")
    before = {p: live_generation(project, p) for p in PLUGINS}
    tmpdir = tmp_path / "tmp"
    proc = start(
        project, tmpdir, "apply", "--installer", installer, "--index-url", stalling_index.url
    )
    children = stalled_children(proc, stalling_index)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - signalled
    assert proc.returncode == 130, f"{out}\n{err}"
    assert took < 8, f"apply took {took:.1f}s to stop"
    assert "Traceback" not in err, err
    assert not wait_gone(children, 5), f"{installer} outlived apply"
    assert sorted(os.listdir(tmpdir)) == []
    assert scratch_entries(project) == []
    for plugin in PLUGINS:
        assert live_generation(project, plugin) == before[plugin], "the old venv stays live"
        generations = os.listdir(project.venv_root / ".generations" / plugin)
        assert generations == [before[plugin].name], f"{plugin}: a build was left: {generations}"
    project.ok("apply")
    assert "No changes." in project.ok("plan").out


@pytest.mark.parametrize("command", ["lock", "apply"])
def test_after_sigkill_one_more_run_leaves_no_temporary_file(
    project: Project, stalling_index: StallingIndex, tmp_path: Path, command: str
) -> None:
    """SIGKILL (no handler runs): the children die with reconciler, their temporary files are
    in the scratch area (never in TMPDIR), and the next run removes them."""
    tmpdir = tmp_path / "tmp"
    if command == "lock":
        with project.edit() as doc:
            doc["settings"]["no-index"] = False
            doc["settings"]["index-url"] = stalling_index.url
        for plugin in PLUGINS:
            project.lock(plugin).unlink()
        proc = start(project, tmpdir, "lock")
    else:
        proc = start(project, tmpdir, "apply", "--index-url", stalling_index.url)
    children = stalled_children(proc, stalling_index)
    proc.kill()
    proc.communicate(timeout=60)
    assert not wait_gone(children, 5), "children outlived a SIGKILLed reconciler"
    assert sorted(os.listdir(tmpdir)) == [], "nothing of reconciler's or its children's in TMPDIR"
    left = scratch_entries(project)
    assert any(name.startswith("run-") and not name.endswith(".lock") for name in left), left

    stalling_index.close()
    if command == "lock":
        with project.edit() as doc:
            doc["settings"]["no-index"] = True
            del doc["settings"]["index-url"]
    result = run_as(project.root, command, env={"TMPDIR": str(tmpdir)})
    assert result.code == 0, result.describe()
    assert scratch_entries(project) == []
    assert sorted(os.listdir(tmpdir)) == []


def _spawning(tmp_path: Path, shell: str) -> tuple[subprocess.Popen[str], Path]:
    """A Python process that runs ``sh -c shell`` through reconciler's child channel (the
    script may write to ``$OUT``); returns it and where the script writes."""
    out = tmp_path / "out"
    code = (
        "import os\n"
        "from reconciler.support import procs\n"
        f"procs.run(['sh', '-c', {shell!r}], env={{**os.environ, 'OUT': {str(out)!r}}})\n"
        "print(procs._watch['mark'])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return proc, out


def _written(out: Path, proc: subprocess.Popen[str]) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        if text.endswith("\n"):
            return [int(pid) for pid in text.split()]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the child never started")


def test_sigkill_takes_the_childrens_own_children_too(tmp_path: Path) -> None:
    """SIGKILL of reconciler: its child dies, and so do the child's own children (a build
    backend uv started, git under a resolver), even one that left the child's process group;
    not only the direct child (all a parent-death signal reaches)."""
    setsid = shutil.which("setsid")
    detached = f"{setsid} sleep 120 & d=$!; " if setsid else "d=; "
    shell = f'sleep 120 & g=$!; {detached}echo $$ $g $d > "$OUT.tmp"; mv "$OUT.tmp" "$OUT"; wait'
    proc, out = _spawning(tmp_path, shell)
    family = set(_written(out, proc))
    assert len(family) == (3 if setsid else 2)
    proc.kill()
    proc.communicate(timeout=30)
    assert not wait_gone(family, 5), "a child or grandchild outlived a SIGKILLed reconciler"


def test_without_a_watchdog_the_child_still_dies_with_reconciler(tmp_path: Path) -> None:
    """No ``grep`` on PATH (the watchdog could find nothing): no watchdog runs, and the child
    gets the parent-death signal instead, so SIGKILL of reconciler still ends it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to("/bin/sh")
    out = tmp_path / "out"
    code = (
        "import os\n"
        "from reconciler.support import procs\n"
        f"os.environ['PATH'] = {str(bin_dir)!r}\n"
        'procs.run([\'sh\', \'-c\', \'echo $$ > "$OUT.tmp"; /bin/mv "$OUT.tmp" "$OUT"; '
        f"exec /bin/sleep 120'], env={{**os.environ, 'OUT': {str(out)!r}}})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    child = set(_written(out, proc))
    assert "RECONCILER_RUN_MARK" not in Path(f"/proc/{min(child)}/environ").read_text("utf-8")
    proc.kill()
    proc.communicate(timeout=30)
    assert not wait_gone(child, 5), "the child outlived a SIGKILLed reconciler"


def test_after_a_normal_exit_nothing_of_the_run_is_left_running(tmp_path: Path) -> None:
    """The watchdog that guards a run's children ends with the run (nothing left behind)."""
    proc, _ = _spawning(tmp_path, "true")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    mark = stdout.strip()
    assert mark.startswith("RECONCILER_RUN_MARK="), stdout

    def left() -> set[int]:
        found = set()
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError):
                if entry.isdigit() and mark.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.add(int(entry))
        return found

    assert not wait_gone(left(), 5), "the run's watchdog outlived it"


# --- 2. moved and copied projects -----------------------------------------------------------------


def _works(project: Project, plugin: str) -> bool:
    exe = project.venv(plugin) / "bin" / plugin
    try:  # a short shebang naming a gone interpreter fails in execve (a long one: in /bin/sh)
        done = subprocess.run([str(exe)], capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        return False
    return done.returncode == 0 and done.stdout.strip() == EXPECTED_OUTPUT[plugin]


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_moved_or_copied_project_is_reinstalled_where_it_now_is(
    applied: Project, tmp_path: Path, how: str
) -> None:
    """``mv proj proj2`` (or a copy): every console script still names the old path, so plan
    says ``reinstall: venv moved (built at OLD)`` and apply repairs it; the original is kept."""
    built = {p: str(live_generation(applied, p)) for p in PLUGINS}
    for plugin in PLUGINS:
        assert json.loads((Path(built[plugin]) / MARKER).read_text())["built_at"] == built[plugin]
    target = tmp_path / f"{how}-project"
    if how == "moved":
        applied.root.rename(target)
    else:
        shutil.copytree(applied.root, target, symlinks=True)
    project = Project(target)
    before = project.ok("plan", "--json")
    for change in json.loads(before.out)["changes"]:
        assert change["action"] == "reinstall", change
        assert change["reasons"] == [f"venv moved (built at {built[change['plugin']]})"]
    if how == "moved":  # what the user would hit: scripts whose shebang names a gone path
        assert not any(_works(project, p) for p in PLUGINS)
    status = project.ok("status").out
    assert "reinstall: venv moved (built at" in status

    project.ok("apply")
    assert "No changes." in project.ok("plan").out
    for plugin in PLUGINS:
        assert _works(project, plugin)
        now = str(live_generation(project, plugin))
        assert now.startswith(str(target))
        assert json.loads((Path(now) / MARKER).read_text())["built_at"] == now
        assert os.listdir(project.venv_root / ".generations" / plugin) == [Path(now).name]
    if how == "copied":  # the original project is untouched and still matches
        assert "No changes." in applied.ok("plan").out
        assert all(_works(applied, p) for p in PLUGINS)


# --- 4. rollback covers upgrades ------------------------------------------------------------------


def _keep_one(project: Project) -> None:
    with project.edit() as doc:
        doc["settings"]["keep-generations"] = 1


def test_with_keep_generations_an_upgrade_is_a_new_generation_and_rollback_restores_the_pins(
    applied: Project,
) -> None:
    project = applied  # keep-generations only decides what a change does: set after apply
    _keep_one(project)
    old = {p: live_generation(project, p) for p in PLUGINS}
    old_pins = {p: project.dists(p) for p in PLUGINS}
    project.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])
    project.ok("lock", "tap-beta")
    assert project.change("tap-beta")["action"] == "upgrade"
    project.ok("apply")
    new = live_generation(project, "tap-beta")
    assert new != old["tap-beta"], "the upgrade built a new generation"
    assert old["tap-beta"].is_dir(), "the previous generation is kept"
    assert project.dists("tap-beta")["demo-extra"] == "1.0.0"
    assert old_pins["tap-beta"]["demo-extra"] == "2.0.0"
    assert (old["tap-beta"] / "lib").is_dir()
    assert json.loads((new / MARKER).read_text())["built_at"] == str(new)
    for plugin in ("tap-alpha", "target-gamma"):
        assert live_generation(project, plugin) == old[plugin], "unchanged plugins stay"

    result = project.ok("rollback", "tap-beta")
    assert old["tap-beta"].name in result.out
    assert live_generation(project, "tap-beta") == old["tap-beta"]
    assert project.dists("tap-beta") == old_pins["tap-beta"]
    assert _works(project, "tap-beta")
    drift = project.change("tap-beta")
    assert drift["action"] == "upgrade"
    assert drift["reasons"] == ["demo-extra 2.0.0 -> 1.0.0 (downgrade)"]

    project.ok("apply")  # forward again: a new generation, the rolled-back one kept
    assert project.dists("tap-beta")["demo-extra"] == "1.0.0"
    kept = sorted(os.listdir(project.venv_root / ".generations" / "tap-beta"))
    assert len(kept) == 2, kept
    assert old["tap-beta"].name in kept


def test_the_keep_generations_hint_only_when_it_is_zero(applied: Project) -> None:
    project = applied
    hinted = project.run("rollback", "tap-alpha")
    assert hinted.code == 1
    assert "set settings.keep-generations = 1" in hinted.err
    _keep_one(project)
    kept = project.run("rollback", "tap-alpha")
    assert kept.code == 1
    assert kept.err_lines == [
        "error: plugin 'tap-alpha': no previous generation to roll back to "
        "(one is kept from the next change on)"
    ], kept.describe()


def test_run_takes_the_venv_rollback_restored_until_the_venv_changes(applied: Project) -> None:
    """``rollback`` is a choice: ``run`` runs that generation (saying it differs from the lock);
    once ``apply`` changed the venv again, ``run`` checks it against the lock as before."""
    project = applied  # keep-generations only decides what a change does: set after apply
    _keep_one(project)
    project.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])
    project.ok("lock", "tap-beta")
    project.ok("apply")
    assert project.ok("run", "tap-beta").out.rstrip().endswith("demo-extra 1.0.0")
    project.ok("rollback", "tap-beta")
    restored = project.ok("run", "tap-beta")
    assert restored.out.rstrip().endswith("demo-extra 2.0.0"), restored.describe()
    assert restored.err_lines == [
        f"warning: plugin 'tap-beta': running generation "
        f"{live_generation(project, 'tap-beta').name}, restored by `rollback` (the lock says "
        "upgrade: demo-extra 2.0.0 -> 1.0.0 (downgrade); `reconciler apply` moves it forward)"
    ], restored.describe()
    assert project.ok("status").err == ""  # the record of the rollback is no stray file
    assert "warning" not in project.ok("plan").err
    other = project.run("run", "tap-alpha")  # only the rolled-back plugin
    assert other.code == 0
    assert other.err == ""

    project.ok("apply")  # forward again: the rollback is over
    assert project.ok("run", "tap-beta").err == ""
    project.hand_pip("tap-beta", "uninstall", "--yes", "demo-extra")
    drifted = project.run("run", "tap-beta")
    assert drifted.code == 1
    assert "venv is not up to date" in drifted.err
