"""``reconciler audit``: known vulnerabilities of every locked package, without installing.

Runs pip-audit (the PyPA's auditor) once per plugin over a requirements file made from the
plugin's lock: every pinned package as ``name==version`` with the lock's hashes, audited with
``--no-deps --disable-pip`` (and ``--require-hashes`` when every line has hashes), so pip-audit
resolves nothing, installs nothing and starts no pip. Markers are dropped: a universal lock's
packages for other platforms are audited too. VCS pins and local projects have no version on
an index to look up; they are listed as not audited.

pip-audit is found with ``--auditor PATH``, else ``$RECONCILER_PIP_AUDIT``, else ``pip-audit`` on
``PATH`` (it lives in its own venv: ``pipx install pip-audit``; reconciler does not depend on
it). Its vulnerability service is pip-audit's own choice (``--service pypi|osv``, default PyPI's
JSON API; ``--osv-url`` points the OSV service elsewhere, e.g. a mirror); pip-audit's
``PIP_AUDIT_*`` environment variables work as usual.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Collection
from pathlib import Path

from reconciler.commands.project import Project, read_locks, select
from reconciler.errors import LockError, ReconcilerError, combine
from reconciler.lockfile import check_lock
from reconciler.models import Lock
from reconciler.results.reports import AuditReport, Finding, PluginAudit
from reconciler.support import procs
from reconciler.support.tool_errors import explain

#: The environment variable naming the pip-audit executable.
AUDITOR_ENV = "RECONCILER_PIP_AUDIT"
#: How long one pip-audit run may take (it queries one service per package).
TIMEOUT = 600.0


def find_auditor(explicit: str | None = None) -> str:
    """The pip-audit executable: ``explicit``, else ``$RECONCILER_PIP_AUDIT``, else PATH's."""
    given = explicit or os.environ.get(AUDITOR_ENV)
    found = shutil.which(given) if given else shutil.which("pip-audit")
    if found is None:
        where = f"{given!r} is not an executable" if given else "pip-audit is not on PATH"
        raise ReconcilerError(
            f"cannot audit: {where}; install it in its own venv (pipx install pip-audit) and "
            f"put it on PATH, or pass --auditor PATH (or set {AUDITOR_ENV})"
        )
    return found


def audit(
    project: Project,
    names: Collection[str],
    *,
    auditor: str,
    service: str | None = None,
    osv_url: str | None = None,
) -> AuditReport:
    """Audit the lock of every selected plugin (all when ``names`` is empty); a missing or
    stale lock is an error before anything runs."""
    only = select(project, names, allow_undeclared=False)
    project.require(only)
    desired = project.desired
    locks = read_locks(desired, only)
    checked: list[tuple[str, Lock]] = []
    failures: list[ReconcilerError] = []
    for plugin in desired.plugins:
        if only and plugin.name not in only:
            continue
        try:
            interpreter = project.interpreters[plugin.name]
            checked.append(
                (plugin.name, check_lock(plugin, locks.get(plugin.name), interpreter, desired))
            )
        except LockError as exc:
            failures.append(exc)
    if failures:
        raise combine(failures)
    options = [
        *(["--vulnerability-service", service] if service else []),
        *(["--osv-url", osv_url] if osv_url else []),
    ]
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - start-up

    with ThreadPoolExecutor(max_workers=max(1, min(len(checked), os.cpu_count() or 1))) as pool:
        audits = pool.map(lambda item: _audit_one(item[0], item[1], auditor, options), checked)
        return AuditReport(tuple(audits))


def _audit_one(plugin: str, lock: Lock, auditor: str, options: list[str]) -> PluginAudit:
    lines: dict[str, str] = {}
    not_audited: list[str] = []
    for package in lock.packages:
        if package.kind in ("vcs", "path") or not package.version:
            not_audited.append(f"{package.name} ({package.kind})")
            continue
        hashes = " ".join(f"--hash={h}" for h in package.hashes)
        lines.setdefault(package.name, f"{package.name}=={package.version} {hashes}".rstrip())
    if not lines:
        return PluginAudit(plugin, not_audited=tuple(not_audited))
    hashed = all("--hash=" in line for line in lines.values())
    with tempfile.TemporaryDirectory(prefix="reconciler-audit-") as scratch:
        requirements = Path(scratch) / f"{plugin}.txt"
        requirements.write_text("".join(f"{line}\n" for line in lines.values()), "utf-8")
        command = [
            auditor,
            "--requirement",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            *(["--require-hashes"] if hashed else []),
            "--format",
            "json",
            "--progress-spinner",
            "off",
            *options,
        ]
        try:
            done = procs.run(command, env=os.environ, timeout=TIMEOUT)
        except OSError as exc:
            return PluginAudit(plugin, error=f"cannot run {auditor}: {exc.strerror}")
        except subprocess.TimeoutExpired:
            return PluginAudit(plugin, error=f"pip-audit took longer than {TIMEOUT:.0f}s")
    return _parse(plugin, done, not_audited)


def _parse(
    plugin: str, done: subprocess.CompletedProcess[str], not_audited: list[str]
) -> PluginAudit:
    """pip-audit's JSON report; exit 1 with a report means findings, without one an error."""
    try:
        data = json.loads(done.stdout)
        dependencies = data["dependencies"]
        if not isinstance(dependencies, list):
            raise TypeError(dependencies)
    except (ValueError, KeyError, TypeError):
        return PluginAudit(plugin, error=f"pip-audit failed: {_last_words(done)}")
    findings: list[Finding] = []
    audited = 0
    for dep in dependencies:
        if not isinstance(dep, dict):
            continue
        name, version = str(dep.get("name", "?")), str(dep.get("version", ""))
        if "skip_reason" in dep:
            not_audited.append(f"{name} ({dep['skip_reason']})")
            continue
        audited += 1
        for vuln in dep.get("vulns") or ():
            findings.append(
                Finding(
                    package=name,
                    version=version,
                    id=str(vuln.get("id", "?")),
                    aliases=tuple(str(a) for a in vuln.get("aliases") or ()),
                    fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or ()),
                    description=" ".join(str(vuln.get("description") or "").split()),
                )
            )
    if done.returncode != 0 and not findings:
        return PluginAudit(plugin, error=f"pip-audit failed: {_last_words(done)}")
    return PluginAudit(plugin, audited, tuple(findings), tuple(not_audited))


def _last_words(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stderr or done.stdout or ""
    return explain(output) if output.strip() else f"exit status {done.returncode}"
