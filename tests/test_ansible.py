"""The Ansible collection in contrib/ansible: module ``reconciler.venvs.reconciler`` run by a
real ansible-core (build/ansible, from lock/ansible.txt) against localhost (connection local)
on the demo project. First run changed, second unchanged, check mode changes nothing on disk,
a bad lock fails the task with reconciler's ``error:`` line."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import EXPECTED_OUTPUT, PLUGINS, Project, snapshot
from release_helpers import REPO, demo_project, release_env, run, tool

pytestmark = pytest.mark.slow
COLLECTIONS = REPO / "contrib" / "ansible"
MODULE = COLLECTIONS / "ansible_collections" / "reconciler" / "venvs" / "plugins" / "modules"
PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
"""
#: One task of :data:`PLAY` per run, in order: the module with the ``runs[i]`` parameters.
TASK = """\
    - name: Plugin venvs match their locks
      reconciler.venvs.reconciler:
        project: "{{{{ project }}}}"
        plugins: "{{{{ runs[{i}].plugins | default([]) }}}}"
        executable: "{{{{ runs[{i}].executable | default('reconciler') }}}}"
      ignore_errors: true
"""
#: A notification callback (runs in ansible-playbook itself, no module process) that appends
#: each task's result to ``$RECONCILER_TEST_RECORD`` as a JSON line. A ``copy`` task doing the
#: same ran two more modules per play (~1 CPU-second); the stdout callback is left as it is.
RECORD_CALLBACK = """\
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "record"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, failed):
        # the status is the event's, not a key of the result a callback gets
        with open(os.environ["RECONCILER_TEST_RECORD"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**result.result, "failed": failed}) + "\\n")

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)
"""


class Ansible:
    """ansible-playbook with no configuration from the machine: its own config file, home,
    temp dirs and collections path; reconciler found on PATH (the dev venv's)."""

    def __init__(self, tmp: Path, locks: Path) -> None:
        self.tmp = tmp
        self.project = demo_project(tmp / "project")
        shutil.copytree(locks, self.project / "lock")  # the session's `reconciler lock`
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "reconciler").symlink_to(REPO / ".venv" / "bin" / "reconciler")
        self.env = release_env(tmp, [bin_dir])
        run(["reconciler", "lock", "--check"], self.env, cwd=self.project)
        ansible_python = tool("ansible", "python")
        (tmp / "ansible.cfg").write_text("", encoding="utf-8")
        (tmp / "inventory").write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={ansible_python}\n",
            encoding="utf-8",
        )
        (tmp / "callbacks").mkdir()
        (tmp / "callbacks" / "record.py").write_text(RECORD_CALLBACK, encoding="utf-8")
        for name in list(self.env):
            if name.startswith("ANSIBLE_"):
                del self.env[name]
        self.env.update(
            ANSIBLE_CONFIG=str(tmp / "ansible.cfg"),
            ANSIBLE_HOME=str(tmp / "ansible-home"),
            ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
            ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local-tmp"),
            ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-remote-tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_CALLBACK_PLUGINS=str(tmp / "callbacks"),
            ANSIBLE_CALLBACKS_ENABLED="record",
        )
        self.runs = 0

    def play(self, *flags: str, **params: Any) -> tuple[dict[str, Any], str]:
        """Run a playbook of one module task with ``params``; return the module's result and
        the playbook output."""
        (result,), out = self.play_all(params, flags=flags)
        return result, out

    def play_all(
        self, *runs: dict[str, Any], flags: Sequence[str] = ()
    ) -> tuple[list[dict[str, Any]], str]:
        """One ansible-playbook run of a module task per ``runs`` entry (its parameters), in
        order; return each task's result and the playbook output."""
        self.runs += 1
        record = self.tmp / f"result-{self.runs}.jsonl"
        playbook = self.tmp / f"play-{self.runs}.yml"
        playbook.write_text(
            PLAY + "".join(TASK.format(i=i) for i in range(len(runs))), encoding="utf-8"
        )
        extra_vars = {"project": str(self.project), "runs": list(runs)}
        done = run(
            [
                tool("ansible", "ansible-playbook"),
                "-i", self.tmp / "inventory",
                playbook,
                "-e", json.dumps(extra_vars),
                *flags,
            ],
            {**self.env, "RECONCILER_TEST_RECORD": str(record)},
            cwd=self.tmp,
        )  # fmt: skip
        results = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
        assert len(results) == len(runs), results
        return results, done.stdout

    def venvs(self) -> Path:
        return self.project / ".venvs"


@pytest.fixture
def ansible(tmp_path: Path, locked_template: Project) -> Ansible:
    return Ansible(tmp_path, locked_template.root / "lock")


def _plugin_outputs(project: Path, plugins: Sequence[str]) -> dict[str, str]:
    return {
        p: run([project / ".venvs" / p / "bin" / p], {"PATH": os.defpath}).stdout.strip()
        for p in plugins
    }


def test_check_mode_then_converge_then_idempotent(ansible: Ansible) -> None:
    before = snapshot(ansible.project)
    checked, out = ansible.play("--check", "--diff")
    assert checked["changed"] is True
    assert not checked.get("failed"), checked
    assert checked["changed_plugins"] == list(PLUGINS)
    assert checked["summary"]["create"] == 3
    diffs = {d["after_header"].split()[0]: d for d in checked["diff"]}
    assert set(diffs) == set(PLUGINS)
    assert diffs["tap-alpha"]["before"] == ""
    assert diffs["tap-alpha"]["after"] == "demo-common==1.1.0\ntap-alpha==1.0.0\n"
    assert "+tap-alpha==1.0.0" in out  # --diff shows it
    assert snapshot(ansible.project) == before, "check mode changed the disk"

    first, _ = ansible.play()
    assert first["changed"] is True
    assert not first.get("failed"), first
    assert _plugin_outputs(ansible.project, PLUGINS) == EXPECTED_OUTPUT

    applied = snapshot(ansible.project)
    second, _ = ansible.play("--diff")
    assert second["changed"] is False
    assert second["diff"] == []
    assert snapshot(ansible.project) == applied, "the second run touched files"

    # Drop a plugin: check mode reports the removal and leaves it; the real run removes it.
    toml = ansible.project / "reconciler.toml"
    text = toml.read_text(encoding="utf-8")
    start = text.index("[plugins.target-gamma]")
    toml.write_text(text[:start], encoding="utf-8")
    before_removal = snapshot(ansible.project)
    removal, _ = ansible.play("--check", "--diff")
    assert removal["changed_plugins"] == ["target-gamma"]
    assert removal["plan"]["summary"]["remove"] == 1
    assert removal["diff"][0]["after"] == ""
    assert snapshot(ansible.project) == before_removal
    (removed, again), _ = ansible.play_all({}, {})  # the removal, then the same task again
    assert removed["changed"] is True
    assert not (ansible.venvs() / "target-gamma").exists()
    assert again["changed"] is False


def test_plugins_and_executable(ansible: Ansible) -> None:
    shutil.rmtree(ansible.tmp / "bin")  # not on PATH: only the executable parameter finds it
    exe = str(REPO / ".venv" / "bin" / "reconciler")
    # four tasks of one play, in order (only the first can create a venv)
    (result, again, option, missing), _ = ansible.play_all(
        {"plugins": ["tap-alpha"], "executable": exe},
        {"plugins": ["tap-alpha"], "executable": exe},
        {"plugins": ["--installer=pip"], "executable": exe},
        {},  # default executable: `reconciler` on PATH, which is gone
    )
    assert result["changed"] is True, result
    assert not result.get("failed"), result
    assert result["changed_plugins"] == ["tap-alpha"]
    assert sorted(p.name for p in ansible.venvs().iterdir() if not p.name.startswith(".")) == [
        "tap-alpha"
    ]
    assert again["changed"] is False
    assert not again.get("failed"), again
    assert option["failed"] is True
    assert option["msg"] == "invalid plugin names: '--installer=pip'"
    assert missing["failed"] is True
    assert "reconciler" in missing["msg"]


def test_bad_lock_fails_the_task_with_the_error_line(ansible: Ansible) -> None:
    lock = ansible.project / "lock" / "tap-beta.txt"
    lock.write_text(lock.read_text(encoding="utf-8") + "--index-url https://evil.example\n")
    expected = run(["reconciler", "plan"], ansible.env, cwd=ansible.project, expect=1).stderr
    error_lines = [line for line in expected.splitlines() if line.startswith("error:")]
    assert error_lines, expected
    before = snapshot(ansible.project)
    result, out = ansible.play()
    assert result["failed"] is True
    assert result["msg"] == "\n".join(error_lines)
    assert "tap-beta" in result["msg"]
    assert result["rc"] == 1
    assert "...ignoring" in out
    assert snapshot(ansible.project) == before


def test_module_documentation_parses(tmp_path: Path) -> None:
    """ansible-doc reads the module's DOCUMENTATION (the parameters the issue names)."""
    env = {
        "PATH": os.defpath,
        "HOME": str(tmp_path),
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
    }
    (tmp_path / "ansible.cfg").write_text("", encoding="utf-8")
    out = run(
        [tool("ansible", "ansible-doc"), "--json", "-t", "module", "reconciler.venvs.reconciler"],
        env,
    ).stdout
    doc = json.loads(out)["reconciler.venvs.reconciler"]["doc"]
    options = doc["options"]
    assert options["project"]["required"] is True
    assert options["plugins"]["type"] == "list"
    assert options["executable"]["default"] == "reconciler"
    assert doc["attributes"]["check_mode"]["support"] == "full"
