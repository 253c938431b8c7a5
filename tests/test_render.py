"""Plan output (DESIGN.md section 4): the human text and the stable JSON document."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from builders import FINGERPRINT, noop, pkg, plan_of, step
from rich.text import Text

from reconciler.errors import toml_position
from reconciler.lockfile import inputs_digest
from reconciler.models import (
    Action,
    DesiredState,
    IndexOptions,
    Install,
    InstalledDist,
    Interpreter,
    Lock,
    MarkerStatus,
    Observation,
    ObservedVenv,
    Plugin,
    Settings,
    StateMarker,
    Step,
    Uninstall,
)
from reconciler.plan import make_plan
from reconciler.render import audit as render_audit
from reconciler.render import audit_errors, human, to_data, to_json
from reconciler.results.reports import AuditReport, PluginAudit
from reconciler.support.redact import redact

AUTH_URL = "https://user:s3cr3t-t0ken@host/simple"


CREATE = step(
    "tap-csv",
    Action.CREATE,
    "no venv",
    install=(
        Install(pkg("certifi", "2024.2.2")),
        Install(pkg("requests", "2.32.3")),
        Install(pkg("tap-csv", "1.2.0")),
    ),
)
UPGRADE = step(
    "target-jsonl",
    Action.UPGRADE,
    "requests 2.31.0 -> 2.32.3",
    "remove chardet 5.2.0 (not in lock)",
    install=(Install(pkg("requests", "2.32.3"), from_version="2.31.0"),),
    uninstall=(Uninstall("chardet", "5.2.0"),),
)
REINSTALL = step("tap-github", Action.REINSTALL, "python 3.11.2 -> 3.11.7", install=CREATE.install)
REMOVE = step("tap-old", Action.REMOVE, "no longer declared")


# --------------------------------------------------------------------------- human


def test_human_matches_the_design_example_exactly() -> None:
    plan = plan_of(CREATE, UPGRADE, REINSTALL, REMOVE)
    assert human(plan) == (
        "  + tap-csv        create      3 packages\n"
        "  ~ target-jsonl   upgrade     requests 2.31.0 -> 2.32.3, - chardet 5.2.0\n"
        "  ± tap-github     reinstall   python 3.11.2 -> 3.11.7\n"
        "  - tap-old        remove      no longer declared\n"
        "Plan: 1 to create, 1 to upgrade, 1 to reinstall, 1 to remove."
    )


def test_human_hides_noop_steps_and_counts_changes_only() -> None:
    plan = plan_of(noop("a-ok"), CREATE, noop("z-ok"))
    lines = human(plan).splitlines()
    assert lines == [
        "  + tap-csv   create      3 packages",
        "Plan: 1 to create, 0 to upgrade, 0 to reinstall, 0 to remove.",
    ]


def test_human_columns_are_aligned() -> None:
    plan = plan_of(
        step("a", Action.REMOVE, "no longer declared"),
        step("a-much-longer-name", Action.REINSTALL, "corrupt state marker"),
        step("mid-name", Action.CREATE, "no venv", install=(Install(pkg("x", "1")),)),
    )
    rows = human(plan).splitlines()[:-1]
    action_columns = {row.index(str(s.action)) for row, s in zip(rows, plan.steps, strict=True)}
    detail_columns = {
        row.index(detail)
        for row, detail in zip(
            rows, ["no longer declared", "corrupt state marker", "1 package"], strict=True
        )
    }
    assert len(action_columns) == 1
    assert len(detail_columns) == 1
    assert rows[2].endswith("create      1 package")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [noop("a"), noop("b"), noop("c"), noop("d")],
            "No changes. 4 venvs match their locks.",
            id="four",
        ),
        pytest.param([noop("a")], "No changes. 1 venv matches its lock.", id="one"),
        pytest.param([], "No changes. 0 venvs match their locks.", id="none"),
    ],
)
def test_human_no_changes(steps: list[Step], expected: str) -> None:
    assert human(plan_of(*steps)) == expected


def test_human_upgrade_detail_lists_new_packages() -> None:
    upgrade = step(
        "tap",
        Action.UPGRADE,
        install=(
            Install(pkg("requests", "2.32.3"), from_version="2.31.0"),
            Install(pkg("urllib3", "2.2.1")),
        ),
        uninstall=(Uninstall("chardet", "5.2.0"), Uninstall("idna", "3.6")),
    )
    (line, _) = human(plan_of(upgrade)).splitlines()
    assert line.startswith("  ~ tap   upgrade     requests 2.31.0 -> 2.32.3, ")
    assert "urllib3 2.2.1" in line
    assert line.endswith(", - chardet 5.2.0, - idna 3.6")


def test_human_color_markup_renders_to_the_plain_text() -> None:
    bracketed = step("tap", Action.REINSTALL, "broken distribution requests[socks]-1.0")
    plan = plan_of(CREATE, UPGRADE, REINSTALL, REMOVE, bracketed)
    colored = human(plan, color=True)
    assert "[green]" in colored
    assert Text.from_markup(colored).plain == human(plan)


def test_human_redacts_credentials() -> None:
    plan = plan_of(step("tap", Action.REINSTALL, f"index {AUTH_URL} unreachable"))
    for text in (human(plan), human(plan, color=True)):
        assert "s3cr3t-t0ken" not in text
        assert "user:" not in text
        assert "host/simple" in text


# --------------------------------------------------------------------------- JSON


def test_json_matches_the_design_example() -> None:
    plan = plan_of(
        step("tap-csv", Action.CREATE, "no venv", install=(Install(pkg("requests", "2.32.3")),)),
        step("tap-ok", Action.NOOP),
        step("tap-old", Action.REMOVE, "no longer declared"),
    )
    document = json.loads(to_json(plan))
    assert document.pop("contract")["version"] == 1  # the whole plan: see test_planfile.py
    assert document == {
        "format_version": 1,
        "changes": [
            {
                "plugin": "tap-csv",
                "action": "create",
                "reasons": ["no venv"],
                "install": [{"name": "requests", "version": "2.32.3", "from": None}],
                "uninstall": [],
            },
            {"plugin": "tap-ok", "action": "no-op", "reasons": [], "install": [], "uninstall": []},
            {
                "plugin": "tap-old",
                "action": "remove",
                "reasons": ["no longer declared"],
                "install": [],
                "uninstall": [],
            },
        ],
        "summary": {"create": 1, "upgrade": 0, "reinstall": 0, "remove": 1, "no-op": 1},
        "fingerprint": FINGERPRINT,
    }


def test_json_key_order_is_stable() -> None:
    plan = plan_of(CREATE, REINSTALL, REMOVE, UPGRADE, noop("zz"))
    document = json.loads(to_json(plan))
    assert list(document) == ["format_version", "changes", "summary", "fingerprint", "contract"]
    assert document["format_version"] == 1
    assert list(document["summary"]) == ["create", "upgrade", "reinstall", "remove", "no-op"]
    assert document["summary"] == {
        "create": 1,
        "upgrade": 1,
        "reinstall": 1,
        "remove": 1,
        "no-op": 1,
    }
    for change in document["changes"]:
        assert list(change) == ["plugin", "action", "reasons", "install", "uninstall"]
        for item in change["install"]:
            assert list(item) == ["name", "version", "from"]
        for item in change["uninstall"]:
            assert list(item) == ["name", "version"]
    assert document["fingerprint"] == FINGERPRINT


def test_json_upgrade_items() -> None:
    (change,) = json.loads(to_json(plan_of(UPGRADE)))["changes"]
    assert change == {
        "plugin": "target-jsonl",
        "action": "upgrade",
        "reasons": ["requests 2.31.0 -> 2.32.3", "remove chardet 5.2.0 (not in lock)"],
        "install": [{"name": "requests", "version": "2.32.3", "from": "2.31.0"}],
        "uninstall": [{"name": "chardet", "version": "5.2.0"}],
    }


def test_json_lists_every_step_including_noops() -> None:
    plan = plan_of(CREATE, noop("tap-ok"), REMOVE)
    document = json.loads(to_json(plan))
    assert [c["plugin"] for c in document["changes"]] == ["tap-csv", "tap-ok", "tap-old"]
    assert [c["action"] for c in document["changes"]] == ["create", "no-op", "remove"]


def test_json_is_byte_stable_and_matches_to_data() -> None:
    plan = plan_of(CREATE, UPGRADE, REINSTALL, REMOVE)
    text = to_json(plan)
    assert text == to_json(plan_of(CREATE, UPGRADE, REINSTALL, REMOVE))
    assert text.endswith("\n")
    assert json.loads(text) == to_data(plan)


def test_json_redacts_credentials() -> None:
    plan = plan_of(
        step("tap", Action.REINSTALL, f"index {AUTH_URL} changed"),
        step("tap-b", Action.REMOVE, f"left {AUTH_URL}"),
    )
    text = to_json(plan)
    assert "s3cr3t-t0ken" not in text
    assert "user:" not in text
    reasons = [r for c in json.loads(text)["changes"] for r in c["reasons"]]
    assert reasons == ["index https://****@host/simple changed", "left https://****@host/simple"]


def test_json_from_make_plan_is_sorted_by_plugin() -> None:
    project = Path("/p/reconciler.toml")
    root = Path("/p/.venvs")
    interpreter = Interpreter("/usr/bin/python3.11", "3.11.7")
    plugins = tuple(Plugin(name, (f"{name}==1.0",), "python3") for name in ("zeta", "alpha", "mid"))
    want = DesiredState(project, Settings(root, Path("/p/lock")), plugins)
    locks: dict[str, Lock | None] = {
        p.name: Lock(
            p.name,
            Path(f"/p/lock/{p.name}.txt"),
            inputs_digest(p, "3.11", IndexOptions()),
            (pkg(p.name, "1.0"),),
            "sha256:" + p.name,
        )
        for p in plugins
    }
    marker = StateMarker("beta", MarkerStatus.COMPLETE, interpreter.executable, "3.11.7", "pip")
    old = ObservedVenv("beta", root / "beta", True, marker, (), (InstalledDist("x", "1.0"),))
    plan = make_plan(
        want, locks, dict.fromkeys(("zeta", "alpha", "mid"), interpreter), Observation(root, (old,))
    )
    document = json.loads(to_json(plan))
    assert [c["plugin"] for c in document["changes"]] == ["alpha", "beta", "mid", "zeta"]
    assert document["summary"] == {
        "create": 3,
        "upgrade": 0,
        "reinstall": 0,
        "remove": 1,
        "no-op": 0,
    }
    assert document["fingerprint"] == plan.fingerprint


# --------------------------------------------------------------------------- redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "https://user:token@host/simple", "https://****@host/simple", id="user-and-password"
        ),
        pytest.param("https://token@host/simple", "https://****@host/simple", id="token-only"),
        pytest.param("http://u:p@10.0.0.1:8080/x", "http://****@10.0.0.1:8080/x", id="http-port"),
        pytest.param(
            "git+https://u:p@github.com/o/r.git", "git+https://****@github.com/o/r.git", id="vcs"
        ),
        pytest.param(
            "a https://u:one@h1/s and https://v:two@h2/s",
            "a https://****@h1/s and https://****@h2/s",
            id="several",
        ),
        pytest.param(
            "https://user:p%40ss@host/simple", "https://****@host/simple", id="percent-encoded"
        ),
        pytest.param("https://pypi.org/simple", "https://pypi.org/simple", id="no-credentials"),
        pytest.param("mail me@example.com", "mail me@example.com", id="not-a-url"),
        pytest.param("https://host/simple/pkg@1.0", "https://host/simple/pkg@1.0", id="at-in-path"),
        pytest.param("", "", id="empty"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_hides_a_password_containing_at_sign() -> None:
    # pip splits user info from the host at the *last* "@" of the netloc: the password is "p@ss".
    redacted = redact("https://user:p@ss@host/simple")
    assert "p@ss" not in redacted
    assert "ss@" not in redacted
    assert redacted.endswith("@host/simple")


def test_redact_is_idempotent() -> None:
    once = redact(AUTH_URL)
    assert redact(once) == once


# --------------------------------------------------------------------------- other commands


def test_audit_errors_are_formatted_from_fields() -> None:
    """``audit``: a failed plugin's line is built once from its fields, credentials redacted."""
    report = AuditReport(
        (
            PluginAudit("tap-ok", audited=3),
            PluginAudit("tap-bad", error=f"pip-audit failed: cannot reach {AUTH_URL}"),
        )
    )
    assert audit_errors(report) == [
        "plugin 'tap-bad': pip-audit failed: cannot reach https://****@host/simple"
    ]
    assert "tap-bad   error (see below)" in render_audit(report)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a = \n", ("Invalid value", 1, 5), id="tomllib"),
        pytest.param("a = 1\na = 2\n", ("Cannot overwrite a value", 2, 6), id="tomllib-line-2"),
        pytest.param('a = "x', ("Unterminated string", None, None), id="tomllib-end"),
    ],
)
def test_toml_errors_become_line_and_column(text: str, expected: tuple[object, ...]) -> None:
    with pytest.raises(tomllib.TOMLDecodeError) as caught:
        tomllib.loads(text)
    assert toml_position(caught.value) == expected
