"""The render layer: plans for people (DESIGN.md section 4) and as stable JSON (format_version 1),
and every command's result as the text the CLI prints. Pure: values in, strings out."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler import lockformats
from reconciler.errors import ReconcilerError, format_error
from reconciler.models import Action, Install, Plan, Step
from reconciler.support.redact import redact

if TYPE_CHECKING:  # only annotations: the plan path loads no other command's values
    from reconciler.apply.execute import ApplyResult
    from reconciler.locking.fetch import FetchReport
    from reconciler.locking.lock import LockReport
    from reconciler.results.changes import EditResult, LockCheck, RollbackResult
    from reconciler.results.reports import AuditReport, SbomFile
    from reconciler.results.status import StatusRow

_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPGRADE: "~",
    Action.REINSTALL: "±",
    Action.REMOVE: "-",
    Action.NOOP: " ",
    Action.BLOCKED: "!",
}
_STYLES = {
    Action.CREATE: "green",
    Action.UPGRADE: "yellow",
    Action.REINSTALL: "magenta",
    Action.REMOVE: "red",
    Action.NOOP: "",
    Action.BLOCKED: "bold red",
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
    if item.repair:
        return f"{item.reason or package.name + ' files differ from RECORD'}{tag}"
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
    if item.repair:  # `--verify`: reinstalled as it is, its files differ from RECORD
        entry["repair"] = True
    if package.kind != "index":  # direct sources say where from, and whether hash-checked
        entry["source"] = package.kind
        entry["location"] = package.url
        entry["hashed"] = package.hash_checked
        if package.prebuilt is not None:  # `fetch` built it: installed from that wheel
            entry["wheel"] = package.prebuilt.url
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
    changes = plan.changes  # once: a property that walks every step
    shown = tuple(s for s in plan.steps if s in changes or s.action is Action.BLOCKED)
    if not shown:
        count = len(plan.steps)
        noun = "venv matches its lock" if count == 1 else "venvs match their locks"
        return f"No changes. {count} {noun}."
    width = max(len(s.plugin) for s in shown)
    lines = []
    for step in shown:
        symbol = _SYMBOLS[step.action]
        action = str(step.action)
        if color:
            style = _STYLES[step.action]
            head = f"[{style}]{symbol} {step.plugin:<{width}}   {action:<11}[/{style}]"
            lines.append(f"  {head} {_escape(redact(detail(step)))}")
        else:
            lines.append(f"  {symbol} {step.plugin:<{width}}   {action:<11} {redact(detail(step))}")
    blocked = plan.count(Action.BLOCKED)
    lines.append(
        f"Plan: {plan.count(Action.CREATE)} to create, {plan.count(Action.UPGRADE)} to upgrade, "
        f"{plan.count(Action.REINSTALL)} to reinstall, {plan.count(Action.REMOVE)} to remove"
        + (
            f"; {blocked} blocked (apply refuses {'it' if blocked == 1 else 'them'})."
            if blocked
            else "."
        )
    )
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def refused_warnings(plan: Plan) -> list[str]:
    """One line per step apply will refuse (``plan`` says so on stderr too)."""
    return [f"{step.plugin}: blocked: {detail(step)}" for step in plan.refused]


def to_data(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document of DESIGN.md section 4 (``docs/plan-format.md``): the
    summary, then the whole plan ``apply FILE`` executes (``contract``)."""
    from reconciler.planfile import FORMAT_VERSION, contract  # noqa: PLC0415 - start-up: `plan --json`/`-o` only

    return {
        "format_version": FORMAT_VERSION,
        "changes": [
            {
                "plugin": step.plugin,
                "action": str(step.action),
                "reasons": [redact(r) for r in step.reasons],
                "install": [_install_entry(i) for i in step.install],
                "uninstall": [{"name": u.name, "version": u.version} for u in step.uninstall],
                **({"delete_files": list(step.delete_files)} if step.delete_files else {}),
            }
            for step in plan.steps
        ],
        "summary": {
            **{str(a): plan.count(a) for a in _SUMMARY_ORDER},
            # only when there are some: a plan without any reads as it always did
            **({"blocked": len(plan.refused)} if plan.refused else {}),
        },
        "fingerprint": plan.fingerprint,
        "contract": contract(plan),
    }


def to_json(plan: Plan) -> str:
    """The plan as stable, indented JSON text (same input, same bytes)."""
    return json.dumps(to_data(plan), indent=2) + "\n"


# --------------------------------------------------------------------------- command results


def lock_check(check: LockCheck) -> str:
    """``lock --check``: one line per lock and orphan, then the verdict."""
    lines = []
    for s in check.statuses:
        reasons = f" ({', '.join(s.reasons)})" if s.reasons and s.state != "missing" else ""
        lines.append(f"{s.plugin}: {s.state}{reasons}")
    for path in check.orphans:
        name = lockformats.label(path)
        shown = path if check.project_dir is None else _relative(path, check.project_dir)
        lines.append(f"{name}: orphaned lock {shown} (plugin no longer declared)")
    if check.ok:
        lines.append(f"All {len(check.statuses)} locks are fresh.")
    else:
        lines.append(f"{len(check.stale)} lock(s) missing or stale, {len(check.orphans)} orphaned.")
    return "\n".join(lines)


def lock_summary(report: LockReport) -> str:
    """The last line of ``lock``."""
    return (
        f"Lock complete: {len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} orphaned removed in {report.seconds:.1f}s."
    )


def apply_summary(result: ApplyResult) -> str:
    """The last line of ``apply`` (the failures are printed as errors apart)."""
    return (
        f"Apply complete: {result.count(Action.CREATE)} created, "
        f"{result.count(Action.UPGRADE)} upgraded, {result.count(Action.REINSTALL)} reinstalled, "
        f"{result.count(Action.REMOVE)} removed in {result.seconds:.1f}s."
    )


def apply_errors(result: ApplyResult) -> list[str]:
    """One message per failed (not interrupted) step."""
    return [redact(f.error or "") for f in result.failed if not f.interrupted]


def rollback(result: RollbackResult) -> str:
    """What ``rollback`` did, and what to do next."""
    return (
        f"{result.plugin}: rolled back to generation {result.generation.name}.\n"
        "plan now reports drift until the lock is reverted too."
    )


def added(result: EditResult) -> str:
    """What ``add`` did, and what to do next."""
    text = f"Added plugin {result.plugin!r} to {result.project_file.name}."
    if not result.locked:
        text += f"\nNext: `reconciler lock {result.plugin}`, then `reconciler apply`."
    return text


def removed(result: EditResult) -> str:
    """What ``remove`` did, and what to do next."""
    return (
        f"Removed plugin {result.plugin!r} from {result.project_file.name}.\n"
        "Next: `reconciler apply` removes its venv; `reconciler lock` deletes its lock."
    )


def fetched(report: FetchReport) -> str:
    """What ``fetch`` put in the wheelhouse, and how to use it."""
    built = (
        f", built {len(report.built)} wheel{'s' if len(report.built) != 1 else ''} of git "
        "commits and local projects"
        if (report.built)
        else ""
    )
    return (
        f"Fetched {len(report.artifacts)} artifacts ({len(report.files)} files){built} for "
        f"{len(report.plugins)} plugins into {report.dest}.\n"
        f"Offline: `reconciler apply --no-index --find-links {report.dest}`."
    )


def status_json(rows: Sequence[StatusRow]) -> str:
    """``status --json``."""
    data = [
        {
            "plugin": r.plugin,
            "path": r.path,
            "python": r.python,
            "packages": r.packages,
            "lock": r.lock,
            "drift": r.drift,
            "detail": redact(r.detail),
        }
        for r in rows
    ]
    return json.dumps({"format_version": 1, "plugins": data}, indent=2)


def status_table(rows: Sequence[StatusRow]) -> str:
    """``status``: an aligned table, the package count right-aligned."""
    if not rows:
        return "No plugins declared and no managed venvs."
    header = ("PLUGIN", "PATH", "PYTHON", "PKGS", "LOCK", "DRIFT")
    table = [
        (
            r.plugin,
            r.path,
            r.python or "-",
            str(r.packages),
            r.lock,
            redact(r.drift if r.drift == "no" or not r.detail else f"{r.drift}: {r.detail}"),
        )
        for r in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *table)) for i in range(len(header) - 1)]
    lines = []
    for cells in (header, *table):
        line = "  ".join(
            cell.rjust(width) if i == 3 else cell.ljust(width)  # PKGS is a number
            for i, (cell, width) in enumerate(zip(cells, widths, strict=False))
        )
        lines.append(f"{line}  {cells[-1]}")
    return "\n".join(lines)


def audit(report: AuditReport) -> str:
    """``audit``: one line per plugin (and per finding), then a summary line."""
    width = max((len(p.plugin) for p in report.plugins), default=0)
    lines = []
    for result in report.plugins:
        head = f"  {result.plugin:<{width}}   "
        if result.error is not None:
            lines.append(f"{head}error (see below)")
            continue
        if not result.findings:
            lines.append(f"{head}no known vulnerabilities ({result.audited} packages)")
        for finding in result.findings:
            aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
            fixed = (
                f", fixed in {', '.join(finding.fix_versions)}"
                if finding.fix_versions
                else ", no fix"
            )
            about = f": {finding.description}" if finding.description else ""
            lines.append(
                f"{head}{finding.package} {finding.version}: {finding.id}{aliases}{fixed}{about}"
            )
        if result.not_audited:
            lines.append(f"{head}not audited: {', '.join(result.not_audited)}")
    affected = sum(1 for p in report.plugins if p.findings)
    count = report.findings
    audited = sum(p.audited for p in report.plugins)
    lines.append(
        f"Audit: {count} known vulnerabilit{'y' if count == 1 else 'ies'} in {affected} of "
        f"{len(report.plugins)} plugins ({audited} packages audited)."
    )
    return "\n".join(lines)


def audit_json(report: AuditReport) -> str:
    """``audit --json``: the report as JSON (``format_version`` 1)."""
    data = {
        "format_version": 1,
        "plugins": [
            {
                "plugin": p.plugin,
                "audited": p.audited,
                "findings": [
                    {
                        "package": f.package,
                        "version": f.version,
                        "id": f.id,
                        "aliases": list(f.aliases),
                        "fix_versions": list(f.fix_versions),
                        "description": f.description,
                    }
                    for f in p.findings
                ],
                "not_audited": list(p.not_audited),
                "error": p.error,
            }
            for p in report.plugins
        ],
        "summary": {"findings": report.findings, "errors": len(report.errors)},
    }
    return json.dumps(data, indent=2) + "\n"


def audit_errors(report: AuditReport) -> list[str]:
    """``audit``: one error line per plugin the auditor failed on."""
    return [
        format_error(ReconcilerError(redact(p.error or ""), plugin=p.plugin)) for p in report.errors
    ]


def sbom_written(written: SbomFile) -> str:
    """``sbom``: one line per document written."""
    return f"{written.plugin}: {written.path} ({written.components} components)"


def exported(plugin: str, lock_format: str, output: os.PathLike[str]) -> str:
    """``export -o FILE``: where the converted lock went."""
    return f"{plugin}: {lock_format} lock written to {os.fspath(output)}"


def _relative(path: os.PathLike[str], base: os.PathLike[str]) -> str:
    """``path`` relative to ``base`` when it lies below it, else as it is."""
    text, prefix = os.fspath(path), os.fspath(base).rstrip(os.sep) + os.sep
    return text.removeprefix(prefix)
