"""Render a plan for people (DESIGN.md section 4) and as stable JSON (format_version 1)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.models import Action, Install, Plan, Step
from reconciler.support.redact import redact

FORMAT_VERSION = 1
_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPGRADE: "~",
    Action.REINSTALL: "±",
    Action.REMOVE: "-",
    Action.NOOP: " ",
}
_STYLES = {
    Action.CREATE: "green",
    Action.UPGRADE: "yellow",
    Action.REINSTALL: "magenta",
    Action.REMOVE: "red",
    Action.NOOP: "",
}
_SUMMARY_ORDER = (Action.CREATE, Action.UPGRADE, Action.REINSTALL, Action.REMOVE, Action.NOOP)


def detail(step: Step) -> str:
    """The one-line description of what a step changes."""
    unhashed = [i.package.name for i in step.install if not i.package.hashable]
    note = f" (unhashed: {', '.join(unhashed)})" if unhashed else ""
    if step.action is Action.CREATE:
        count = len(step.install)
        return f"{count} package{'s' if count != 1 else ''}{note}"
    if step.action is Action.UPGRADE:
        parts = [_upgrade_part(i) for i in step.install]
        parts.extend(f"- {u.name} {u.version}" for u in step.uninstall)
        return ", ".join(parts)
    return ", ".join(step.reasons) + note


def _upgrade_part(item: Install) -> str:
    package = item.package
    tag = "" if package.hashable else " (unhashed)"
    if item.from_version is None:
        return f"+ {package.name} {package.label}{tag}"
    if package.kind == "index":
        return f"{package.name} {item.from_version} -> {package.version}{_direction(item)}"
    return f"{item.reason or package.name + ' -> ' + package.label}{tag}"


def _install_entry(item: Install) -> dict[str, Any]:
    package = item.package
    entry: dict[str, Any] = {
        "name": package.name,
        "version": package.version,
        "from": item.from_version,
    }
    if package.kind != "index":  # direct sources say where from, and whether hash-checked
        entry["source"] = package.kind
        entry["location"] = package.url
        entry["hashed"] = package.hashable
        if package.commit:
            entry["commit"] = package.commit
        if package.editable:
            entry["editable"] = True
    return entry


def _direction(install: Install) -> str:
    """`` (downgrade)`` when the locked version is older than the installed one."""
    return " (downgrade)" if install.is_downgrade else ""


def human(plan: Plan, *, color: bool = False) -> str:
    """The plan as people read it; ends with ``Plan: ...`` or ``No changes. ...``."""
    changes = plan.changes
    if not changes:
        count = len(plan.steps)
        noun = "venv matches its lock" if count == 1 else "venvs match their locks"
        return f"No changes. {count} {noun}."
    width = max(len(s.plugin) for s in changes)
    lines = []
    for step in changes:
        symbol = _SYMBOLS[step.action]
        action = str(step.action)
        if color:
            style = _STYLES[step.action]
            head = f"[{style}]{symbol} {step.plugin:<{width}}   {action:<11}[/{style}]"
            lines.append(f"  {head} {_escape(redact(detail(step)))}")
        else:
            lines.append(f"  {symbol} {step.plugin:<{width}}   {action:<11} {redact(detail(step))}")
    lines.append(
        f"Plan: {plan.count(Action.CREATE)} to create, {plan.count(Action.UPGRADE)} to upgrade, "
        f"{plan.count(Action.REINSTALL)} to reinstall, {plan.count(Action.REMOVE)} to remove."
    )
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def to_data(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document of DESIGN.md section 4."""
    return {
        "format_version": FORMAT_VERSION,
        "changes": [
            {
                "plugin": step.plugin,
                "action": str(step.action),
                "reasons": [redact(r) for r in step.reasons],
                "install": [_install_entry(i) for i in step.install],
                "uninstall": [{"name": u.name, "version": u.version} for u in step.uninstall],
            }
            for step in plan.steps
        ],
        "summary": {str(a): plan.count(a) for a in _SUMMARY_ORDER},
        "fingerprint": plan.fingerprint,
    }


def to_json(plan: Plan) -> str:
    """The plan as stable, indented JSON text (same input, same bytes)."""
    return json.dumps(to_data(plan), indent=2) + "\n"
