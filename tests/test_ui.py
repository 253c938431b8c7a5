"""What people see: the live display in a real pseudo-terminal, the plain log when piped,
``run``, ``status`` and shell completion."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import EXPECTED_OUTPUT, PLUGINS, Project, run_cli

from reconciler.support.ui import PlainReporter

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY = re.compile(
    r"^Apply complete: (\d+) created, (\d+) upgraded, (\d+) reinstalled, (\d+) removed "
    r"in \d+\.\ds\.$"
)


def run_in_pty(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with stdin/stdout/stderr on a pseudo-terminal; return (code, screen bytes)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--project", str(project), *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "NO_COLOR"},
            "TERM": "xterm-256color",
            "COLUMNS": "100",
            **(env or {}),
        },
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    code = process.wait(timeout=30)
    os.close(main)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_apply_on_a_terminal_shows_live_display_and_summary(project: Project) -> None:
    code, screen = run_in_pty(project.root, "apply")
    assert code == 0, screen
    assert "\x1b[?25l" in screen, "the live display hides the cursor while it runs"
    assert "\x1b[32m" in screen, "a TTY gets colour"
    text = ANSI.sub("", screen).replace("\r", "")
    for plugin in PLUGINS:
        assert re.search(rf"{plugin}\s+create done in \d+\.\ds\s+\d+\.\ds", text), text
    last = [line for line in text.splitlines() if line.strip()][-1]
    assert SUMMARY.match(last), last
    assert SUMMARY.match(last).groups() == ("3", "0", "0", "0")  # type: ignore[union-attr]


def test_no_color_on_a_terminal_means_no_escape_codes_for_colour(project: Project) -> None:
    code, screen = run_in_pty(project.root, "plan", env={"NO_COLOR": "1"})
    assert code == 0
    assert "\x1b[3" not in screen
    assert "+ tap-alpha" in screen


def test_apply_piped_logs_one_line_per_event(project: Project) -> None:
    result = project.ok("apply", "--jobs", "1")
    assert "\x1b" not in result.out, "no escape codes when not a terminal"
    lines = result.out.splitlines()
    plan_lines = [line for line in lines if line.startswith("  + ")]
    assert [line.split()[1] for line in plan_lines] == list(PLUGINS)
    assert lines[len(plan_lines)] == "Plan: 3 to create, 0 to upgrade, 0 to reinstall, 0 to remove."
    events = lines[len(plan_lines) + 1 : -1]
    expected = []
    for plugin in PLUGINS:
        expected.append(rf"{plugin}: creating \(\d packages\)")
        expected.append(rf"{plugin}: create done in \d+\.\ds")
    assert len(events) == len(expected), events
    for line, pattern in zip(events, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert SUMMARY.match(lines[-1])
    assert result.err == ""


def test_quiet_keeps_only_plan_and_summary(project: Project) -> None:
    result = project.ok("--quiet", "apply")
    assert not any(": creating" in line for line in result.out.splitlines())
    assert SUMMARY.match(result.out.splitlines()[-1])


def test_verbose_shows_installer_commands_with_credentials_redacted(project: Project) -> None:
    result = project.run(
        "-v",
        "apply",
        "tap-alpha",
        "--jobs",
        "1",
        "--index-url",
        "https://user:s3cret@127.0.0.1:9/simple",
        "--find-links",
        str(project.wheels),
        # retrying the unreachable index (uv or pip) takes ~8 s and checks nothing here
        env={"UV_HTTP_RETRIES": "0", "PIP_RETRIES": "0"},
    )
    commands = [line for line in result.err.splitlines() if line.startswith("$ ")]
    assert any(" install " in c and "--require-hashes" in c for c in commands), result.err
    assert any("https://****@127.0.0.1:9/simple" in c for c in commands), result.err
    assert "s3cret" not in result.out + result.err
    piped = project.ok("apply", "tap-alpha", "--find-links", str(project.wheels), "--no-index")
    assert not any(line.startswith("$ ") for line in piped.err.splitlines())


def test_run_invokes_the_console_script_and_passes_its_exit_code(applied: Project) -> None:
    for plugin in PLUGINS:
        result = applied.ok("run", plugin)
        assert result.out.strip() == EXPECTED_OUTPUT[plugin]
    failing = applied.run("run", "-m", "demo_common.nonexistent", "tap-alpha")
    assert failing.code == 1
    assert "No module named" in failing.err


def test_run_refuses_a_missing_or_stale_venv(applied: Project) -> None:
    (applied.venv_root / "tap-beta").unlink()
    result = applied.run("run", "tap-beta")
    assert result.code == 1
    assert result.err_lines == [
        "error: plugin 'tap-beta': venv is not up to date (create: 3 packages); "
        "run `reconciler apply` first"
    ]
    unknown = applied.run("run", "nope")
    assert unknown.code == 1
    assert unknown.err_lines == ["error: plugin 'nope' is not declared in reconciler.toml"]


def test_status_lines_and_json(applied: Project) -> None:
    applied.hand_pip(
        "target-gamma",
        "install",
        "--no-deps",
        "--no-index",
        "--find-links",
        str(applied.wheels),
        "demo-stray",
    )
    applied.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])
    text = applied.ok("status").out.splitlines()
    assert text[0].split() == ["PLUGIN", "PATH", "PYTHON", "PKGS", "LOCK", "DRIFT"]
    rows = {line.split()[0]: line.split() for line in text[1:]}
    assert rows["tap-alpha"][1:] == [".venvs/tap-alpha", rows["tap-alpha"][2], "2", "fresh", "no"]
    assert rows["tap-beta"][4:6] == ["stale", "unknown:"]  # then why: the stale lock's reason
    assert "requirements changed" in " ".join(rows["tap-beta"][6:])
    assert rows["target-gamma"][3:6] == ["3", "fresh", "upgrade:"]
    data = json.loads(applied.ok("status", "--json").out)
    by_name = {row["plugin"]: row for row in data["plugins"]}
    assert by_name["target-gamma"]["drift"] == "upgrade"
    assert by_name["target-gamma"]["detail"] == "- demo-stray 1.0.0"
    assert by_name["tap-beta"]["lock"] == "stale"


def test_completion_scripts_and_plugin_names(project: Project) -> None:
    for shell in ("bash", "zsh", "fish"):
        assert "_RECONCILER_COMPLETE" in project.ok("completion", shell).out
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", "ta"],
        env={
            **os.environ,
            "_RECONCILER_COMPLETE": "bash_complete",
            "COMP_WORDS": "reconciler run ta",
            "COMP_CWORD": "2",
        },
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.split() == ["plain,tap-alpha", "plain,tap-beta", "plain,target-gamma"]


def test_first_add_creates_the_project_file_and_the_ci_check_fails_until_locked(
    tmp_path: Path,
) -> None:
    added = run_cli(tmp_path, "add", "tap-beta", "tap-beta")
    assert added.code == 0, added.describe()
    text = (tmp_path / "reconciler.toml").read_text()
    assert text.startswith("# reconciler desired state")
    assert '[plugins.tap-beta]\nrequirements = ["tap-beta"]\n' in text
    check = run_cli(tmp_path, "lock", "--check")
    assert check.code == 2
    assert "tap-beta: missing" in check.out


def test_plain_reporter_heartbeat_names_what_is_still_running_and_stops_when_done() -> None:
    """lock's ``resolving`` gets ``still resolving`` lines until ``written``; another plugin
    that is done gets none; nothing after close."""
    stream = io.StringIO()
    reporter = PlainReporter(stream, heartbeat=0.2)
    reporter("fast", "resolving (missing)")
    reporter("fast", "written in 0.0s")
    reporter("slow", "resolving (requirements changed)")
    time.sleep(0.7)
    reporter("slow", "written in 0.7s")
    time.sleep(0.4)
    reporter.close()
    lines = stream.getvalue().splitlines()
    beats = [line for line in lines if " still " in line]
    assert len(beats) >= 2, lines
    assert all(line.startswith("slow: still resolving (") for line in beats)
    assert lines.index(beats[-1]) < lines.index("slow: written in 0.7s")
