"""``reconciler add`` / ``remove``: tomlkit edits that keep every comment and blank line.

The pure text functions are tested in-process over many layouts; the commands run as real
subprocesses (``python -m reconciler``), and ``add --lock`` runs the real pip-compile offline.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from helpers import assert_one_error, run_cli

from reconciler.errors import ConfigError, LockError, SafetyError
from reconciler.sources.toml_edit import add_plugin, add_text, remove_plugin, remove_text

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example"

COMMENTED = """\
# Project header comment.
# It spans two lines.

[settings]   # inline comment on a header
# comment above a key
find-links = ["wheels"]  # inline comment on a key
no-index = true


# Comment block above tap-alpha,
# directly attached to its header.
[plugins.tap-alpha]
# comment inside tap-alpha
requirements = [
    "tap-alpha==1.0.0",  # comment inside the array
    # a comment line inside the array
]
# trailing comment attached to tap-alpha

# comment above target-gamma
[plugins.target-gamma]   # inline on the header
requirements = ["target-gamma", "demo-common<1.1"]
python = "python3"  # inline on python

# Footer comment, below everything.
"""


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    """A project directory whose reconciler.toml is :data:`COMMENTED`."""
    (tmp_path / "reconciler.toml").write_text(COMMENTED, encoding="utf-8")
    return tmp_path


# ---- the commands ---------------------------------------------------------------------------


def test_add_then_remove_is_byte_identical(commented: Path) -> None:
    path = commented / "reconciler.toml"
    original = path.read_bytes()

    added = run_cli(
        commented, "add", "tap-new", "tap-beta>=1", "demo-extra==2.0.0", "--python", "3.11"
    )
    assert added.returncode == 0, added.stderr
    assert "Added plugin 'tap-new'" in added.stdout
    text = path.read_text(encoding="utf-8")
    diff = list(difflib.ndiff(COMMENTED.splitlines(), text.splitlines()))
    assert not [line for line in diff if line.startswith(("- ", "? "))], "\n".join(diff)
    assert [line[2:] for line in diff if line.startswith("+ ")] == [
        "[plugins.tap-new]",
        'requirements = ["tap-beta>=1", "demo-extra==2.0.0"]',
        'python = "3.11"',
        "",
    ]
    # the new table sits after the last plugin and its attached comments, before the footer
    assert text.index("[plugins.tap-new]") > text.index('python = "python3"')
    assert text.index("[plugins.tap-new]") < text.index("# Footer comment")

    removed = run_cli(commented, "remove", "tap-new")
    assert removed.returncode == 0, removed.stderr
    assert "Removed plugin 'tap-new'" in removed.stdout
    assert path.read_bytes() == original


def test_add_keeps_file_mode(commented: Path) -> None:
    path = commented / "reconciler.toml"
    path.chmod(0o640)
    assert run_cli(commented, "add", "x", "tap-beta").returncode == 0
    assert path.stat().st_mode & 0o777 == 0o640
    assert not [p for p in commented.iterdir() if p.name != "reconciler.toml"]  # no temp left


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("x", "x >> 1"), "invalid requirement 'x >> 1'"),
        (("../x", "tap-beta"), "invalid plugin name"),
        (("a/b", "tap-beta"), "invalid plugin name"),
        (("tap-alpha", "tap-beta"), "plugin 'tap-alpha' already declared"),
        (("TAP-ALPHA", "tap-beta"), "already declared (as 'tap-alpha')"),
        (("x", "tap-beta", "--python", ""), "python: must not be empty"),
    ],
)
def test_add_invalid_leaves_file_untouched(
    commented: Path, args: tuple[str, ...], expected: str
) -> None:
    path = commented / "reconciler.toml"
    original = path.read_bytes()
    line = assert_one_error(run_cli(commented, "add", *args))
    assert expected in line
    assert path.read_bytes() == original


def test_remove_undeclared_is_an_error(commented: Path) -> None:
    path = commented / "reconciler.toml"
    original = path.read_bytes()
    assert "plugin 'nope' is not declared" in assert_one_error(run_cli(commented, "remove", "nope"))
    assert "did you mean 'tap-alpha'" in assert_one_error(run_cli(commented, "remove", "Tap-Alpha"))
    assert path.read_bytes() == original


def test_remove_keeps_comments_of_neighbours(commented: Path) -> None:
    assert run_cli(commented, "remove", "tap-alpha").returncode == 0
    text = (commented / "reconciler.toml").read_text(encoding="utf-8")
    assert "tap-alpha" not in text
    assert "Comment block above tap-alpha" not in text  # attached above: removed with it
    assert "trailing comment attached to tap-alpha" not in text  # attached below: removed too
    assert "# comment above target-gamma\n[plugins.target-gamma]" in text
    assert text.startswith("# Project header comment.")
    assert text.endswith("\n# Footer comment, below everything.\n")
    assert "no-index = true\n\n\n# comment above target-gamma" in text  # blank lines kept


def test_invalid_file_is_reported_not_edited(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.toml"
    path.write_text('[plugins.a]\nrequirements = ["a"]\npyhton = "3.11"\n', encoding="utf-8")
    line = assert_one_error(run_cli(tmp_path, "add", "b", "b"))
    assert "reconciler.toml:3" in line
    assert "unknown key 'pyhton'" in line


def test_add_lock_writes_the_lock(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    original = (project / "reconciler.toml").read_text(encoding="utf-8")
    result = run_cli(project, "add", "gamma2", "target-gamma", "--lock")
    assert result.returncode == 0, result.stderr
    lock = project / "lock" / "gamma2.txt"
    assert lock.is_file()
    text = lock.read_text(encoding="utf-8")
    assert text.startswith("# reconciler-inputs: sha256:")
    assert "target-gamma==1.0.0" in text
    assert "--hash=sha256:" in text
    assert not (project / "lock" / "tap-alpha.txt").exists()  # only the new plugin is locked
    check = run_cli(project, "lock", "--check", "gamma2")
    assert check.returncode == 0, check.stdout + check.stderr

    # a lock that cannot resolve undoes the edit
    failed = run_cli(project, "add", "broken", "no-such-dist-anywhere", "--lock")
    line = assert_one_error(failed)
    assert "broken" in line
    assert "left unchanged" in line
    after = (project / "reconciler.toml").read_text(encoding="utf-8")
    assert "[plugins.broken]" not in after
    assert after.startswith(original)
    assert not (project / "lock" / "broken.txt").exists()


def test_symlinked_project_file_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "reconciler.shared.toml"
    real.write_text(COMMENTED, encoding="utf-8")
    link = tmp_path / "reconciler.toml"
    link.symlink_to(real.name)
    add_plugin(link, "x", ["tap-beta"])
    assert link.is_symlink()
    assert "[plugins.x]" in real.read_text(encoding="utf-8")
    remove_plugin(link, "x")
    assert real.read_text(encoding="utf-8") == COMMENTED


def test_a_project_file_linked_out_of_its_directory_is_not_edited(tmp_path: Path) -> None:
    """Issue 15: nothing reconciler writes replaces a file outside the target directory."""
    real = tmp_path / "shared" / "reconciler.toml"
    real.parent.mkdir()
    real.write_text(COMMENTED, encoding="utf-8")
    link = tmp_path / "reconciler.toml"
    link.symlink_to(real)
    with pytest.raises(SafetyError, match="symlink"):
        add_plugin(link, "x", ["tap-beta"])
    assert real.read_text(encoding="utf-8") == COMMENTED


def test_failing_follow_up_undoes_the_edit(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    seen: list[str] = []

    def then() -> None:
        seen.append(path.read_text(encoding="utf-8"))
        raise LockError("plugin 'x': cannot lock: nope")

    with pytest.raises(LockError, match=r"cannot lock: nope \(reconciler\.toml left unchanged\)"):
        add_plugin(path, "x", ["tap-beta"], then=then)
    assert "[plugins.x]" in seen[0]  # the follow-up saw the edited file
    assert path.read_text(encoding="utf-8") == COMMENTED


# ---- the text functions, over many layouts ----------------------------------------------------

P = Path("/project/reconciler.toml")
LAYOUTS = {
    "commented": COMMENTED,
    "example": (EXAMPLE / "reconciler.toml").read_text(encoding="utf-8"),
    "no final newline": COMMENTED.rstrip("\n"),
    "trailing blank lines": COMMENTED + "\n\n",
    "settings only": "[settings]\nno-index = true\n",
    "empty": "",
    "blank": "\n\n",
    "comment only": "# nothing declared yet\n",
    "explicit [plugins]": "[plugins]\na = {requirements = ['a']}\n",
    "plugins then settings": "[plugins.a]\nrequirements = ['a']\n\n[settings]\nno-index = true\n",
    "crlf": COMMENTED.replace("\n", "\r\n"),
    "no blank lines": "[settings]\nno-index = true\n[plugins.a]\nrequirements = ['a']\n",
    "attached trailing comment": "[plugins.a]\nrequirements = ['a']\n# about a\n",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_round_trip(layout: str) -> None:
    text = LAYOUTS[layout]
    added = add_text(text, P, "new-one", ["demo-common<2", 'demo-extra; python_version >= "3"'])
    assert "[plugins.new-one]" in added
    assert 'demo-extra; python_version >= "3"\'' in added  # literal string, not escaped
    assert remove_text(added, P, "new-one") == text


def test_round_trip_with_a_comment_between_plugins_and_settings() -> None:
    text = "[plugins.a]\nrequirements = ['a']\n# about settings\n[settings]\nno-index = true\n"
    added = add_text(text, P, "b", ["b"])
    # the comment stays with [settings]; the new table gets blank lines around it
    assert added == (
        "[plugins.a]\nrequirements = ['a']\n\n[plugins.b]\nrequirements = [\"b\"]\n\n"
        "# about settings\n[settings]\nno-index = true\n"
    )
    # the one layout that does not round-trip byte for byte: a blank line is left behind
    assert remove_text(added, P, "b") == text.replace("\n# about", "\n\n# about")


def test_crlf_is_kept() -> None:
    added = add_text(LAYOUTS["crlf"], P, "x", ["x"])
    assert "\n" not in added.replace("\r\n", "")


def test_long_requirement_lists_are_multiline() -> None:
    requirements = [f"package-number-{i}>=1.0" for i in range(6)]
    added = add_text("", P, "x", requirements)
    assert added.startswith('[plugins.x]\nrequirements = [\n    "package-number-0>=1.0",\n')
    assert remove_text(added, P, "x") == ""


def test_remove_last_plugin_keeps_header_comments() -> None:
    text = "# header\n\n[settings]\nno-index = true\n\n[plugins.a]\nrequirements = ['a']\n"
    assert remove_text(text, P, "a") == "# header\n\n[settings]\nno-index = true\n"


def test_remove_inline_entry() -> None:
    text = "[plugins]\na = {requirements = ['a']}  # a\nb = {requirements = ['b']}\n"
    assert remove_text(text, P, "a") == "[plugins]\nb = {requirements = ['b']}\n"


def test_inline_plugins_table_is_refused() -> None:
    text = "plugins = {a = {requirements = ['a']}}\n"
    with pytest.raises(ConfigError, match="edit it by hand"):
        add_text(text, P, "b", ["b"])


@pytest.mark.parametrize(
    ("name", "requirements", "message"),
    [
        ("x", ["x >> 1"], r"reconciler\.toml:\d+: plugins\.x\.requirements\[0\]: invalid req"),
        ("../x", ["x"], r"plugins\.'\.\./x': invalid plugin name"),
        ("", ["x"], "invalid plugin name"),
        ("x", [], "must list at least one requirement"),
    ],
)
def test_invalid_additions(name: str, requirements: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        add_text(COMMENTED, P, name, requirements)
    assert "\n" not in str(info.value)
    assert str(info.value).endswith("(reconciler.toml left unchanged)")
