#!/usr/bin/python
# Copyright: reconciler maintainers
# MIT License (see the repository's pyproject.toml)
"""Ansible module: reconcile a project's plugin venvs with venv-reconciler."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reconciler
short_description: Make a project's per-plugin Python venvs match their locks
version_added: "0.1.0"
description:
  - Runs C(reconciler plan --json) on the host; when the plan changes anything, runs
    C(reconciler apply) with exactly that plan.
  - C(changed) comes from the plan (any action other than C(no-op)), so a second run reports no change.
  - In check mode only the plan runs: nothing on disk changes.
  - The diff holds, per changed plugin, the installed versions (before) and the locked ones (after).
  - Needs venv-reconciler on the host (C(pipx install 'venv-reconciler[uv]')).
options:
  project:
    description: Directory holding C(reconciler.toml) or C(meltano.yml) (or the file itself).
    type: path
    required: true
  plugins:
    description: Only these plugins (default all declared plugins and managed venvs).
    type: list
    elements: str
    default: []
  executable:
    description: The reconciler command, a name on C(PATH) or a path.
    type: str
    default: reconciler
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - reconciler maintainers
"""

EXAMPLES = r"""
- name: Plugin venvs match the committed locks
  reconciler.venvs.reconciler:
    project: /srv/etl

- name: Only two plugins, with a pinned tool
  reconciler.venvs.reconciler:
    project: /srv/etl
    plugins: [tap-github, target-postgres]
    executable: /opt/reconciler/bin/reconciler
"""

RETURN = r"""
plan:
  description: The JSON plan (format_version 1) the run was decided on.
  returned: success
  type: dict
changed_plugins:
  description: Plugins whose action is not no-op.
  returned: success
  type: list
  elements: str
summary:
  description: Action counts of the plan (create, upgrade, reinstall, remove, no-op).
  returned: success
  type: dict
stdout:
  description: Output of apply (empty when nothing was applied).
  returned: always
  type: str
stderr:
  description: Error output of the last reconciler command.
  returned: always
  type: str
"""

import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule


#: reconciler's plugin name rule; anything else (an option, a path) is refused before running it.
PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def error_lines(stderr, stdout=""):
    """The tool's one-line errors (``error: ...``); else the last lines of its output."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    if lines:
        return "\n".join(lines)
    tail = [line for line in (stderr or stdout).splitlines() if line.strip()][-5:]
    return "\n".join(tail) or "reconciler failed with no output"


def _package_lines(entries, key):
    lines = []
    for entry in entries:
        version = entry.get(key)
        if version is None:
            continue
        where = entry.get("location")
        lines.append(f"{entry['name']}=={version}" if version else f"{entry['name']} @ {where}")
    return "".join(line + "\n" for line in sorted(lines))


def plugin_diff(change):
    """One Ansible diff for a plugin: installed versions before, locked versions after."""
    name = change["plugin"]
    installs = change.get("install", [])
    uninstalls = change.get("uninstall", [])
    before = _package_lines(installs, "from") + _package_lines(uninstalls, "version")
    after = _package_lines(installs, "version")
    reasons = "; ".join(change.get("reasons", []))
    header = f"{name} ({change['action']}{': ' + reasons if reasons else ''})"
    if change["action"] == "remove":
        before, after = before or "(managed venv)\n", ""
    elif change["action"] == "create":
        before = ""
    return {
        "before_header": f"{name} (installed)",
        "after_header": header,
        "before": before,
        "after": after,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "project": {"type": "path", "required": True},
            "plugins": {"type": "list", "elements": "str", "default": []},
            "executable": {"type": "str", "default": "reconciler"},
        },
        supports_check_mode=True,
    )
    project = module.params["project"]
    plugins = module.params["plugins"]
    executable = module.params["executable"]
    bad = [name for name in plugins if not PLUGIN_NAME.fullmatch(name)]
    if bad:
        module.fail_json(msg=f"invalid plugin names: {', '.join(map(repr, bad))}")
    if os.sep not in executable:
        executable = module.get_bin_path(executable, required=True)
    base = [executable, f"--project={project}", "--no-color"]
    environ = {"NO_COLOR": "1"}
    result = {"changed": False, "stdout": "", "stderr": ""}

    with tempfile.TemporaryDirectory(prefix="ansible-reconciler-") as scratch:
        plan_file = os.path.join(scratch, "plan.json")
        rc, out, err = module.run_command(
            [*base, "plan", "--json", "-o", plan_file, *plugins], environ_update=environ
        )
        result["stderr"] = err
        if rc != 0:
            module.fail_json(msg=error_lines(err, out), rc=rc, **result)
        try:
            plan = json.loads(out)
        except ValueError as exc:
            module.fail_json(msg=f"reconciler plan --json printed no JSON: {exc}", **result)
        changes = [c for c in plan.get("changes", []) if c.get("action") != "no-op"]
        result.update(
            changed=bool(changes),
            plan=plan,
            changed_plugins=[c["plugin"] for c in changes],
            summary=plan.get("summary", {}),
            diff=[plugin_diff(c) for c in changes],
        )
        if not changes or module.check_mode:
            module.exit_json(**result)
        # The same selection as the plan: apply checks the plan file against it.
        rc, out, err = module.run_command(
            [*base, "-q", "apply", plan_file, *plugins], environ_update=environ
        )
        result.update(stdout=out, stderr=err)
        if rc != 0:
            module.fail_json(msg=error_lines(err, out), rc=rc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
