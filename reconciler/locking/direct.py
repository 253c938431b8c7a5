"""Direct requirements (VCS, local paths) before and after any resolver, the same for all.

A resolver (pip-compile or uv) runs in a temporary directory and knows nothing of reconciler's
lock format. :func:`resolver_inputs` turns a plugin's requirements into the input lines it gets
(local paths absolute, VCS refs held at the previously locked commit unless upgrading), and
:func:`finalise` turns its output into the lock body:

- ``-e file:///abs/plugins/tap-x`` -> ``-e ./plugins/tap-x  # reconciler: name=tap-x``
  (paths relative to the project directory, never absolute; the name from the project's metadata);
- ``tap-x @ file:///abs/plugins/tap-x`` -> ``./plugins/tap-x  # reconciler: name=tap-x``;
- ``tap-g @ git+https://h/r@v1`` -> ``tap-g @ git+https://h/r@<commit>  # reconciler: ref=v1``
  (the 40-hex commit ``git ls-remote`` gives for the ref);
- pip-compile's "will require the following package to be hashed" warnings are dropped: reconciler
  installs unhashable lines in their own call.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reconciler import requirements
from reconciler.errors import LockError
from reconciler.installers.pipconfig import hermetic_env
from reconciler.models import Lock, Plugin
from reconciler.support import procs
from reconciler.support.names import canonical_name as canonicalize_name
from reconciler.support.redact import redact, strip_userinfo

_HEX40 = re.compile(r"[0-9a-f]{40}\Z")
_WARNING = re.compile(
    r"^# (WARNING: pip install will require the following package to be hashed\.|"
    r"Consider using a hashable URL like .*)$"
)


def resolver_inputs(
    plugin: Plugin,
    project_dir: Path,
    previous: Lock | None,
    *,
    upgrade: bool,
    upgrade_packages: Collection[str],
) -> list[str]:
    """The requirement lines a resolver gets for ``plugin`` (one per requirement).

    Every VCS requirement is pinned to a commit before resolving, so that the resolver (any of
    them) sees exactly the code the lock will pin: the previous lock's commit for the same repo
    and ref unless upgrading (``--upgrade``, or ``-P`` naming it), else the commit the ref names
    now (``git ls-remote``; an unreachable host fails here, saying so).
    """
    upgrading = {str(canonicalize_name(n)) for n in upgrade_packages}
    lines = []
    for text in plugin.requirements:
        req = requirements.parse(text)
        if req.kind != "vcs":
            lines.append(req.for_resolver(project_dir))
            continue
        assert req.url is not None  # noqa: S101 - vcs requirements carry their URL
        repo, ref, fragment = requirements.split_vcs(requirements.normalise_file_url(req.url))
        held = None if upgrade or previous is None else _held(req, repo, ref, previous, upgrading)
        commit = held or (ref if ref and _HEX40.fullmatch(ref) else _commit(repo, ref, plugin))
        extras = f"[{','.join(req.extras)}]" if req.extras else ""
        marker = f" ; {req.marker}" if req.marker else ""
        name = f"{req.name}{extras} @ " if req.name else ""
        lines.append(f"{name}{repo}@{commit}{fragment}{marker}")
    return lines


def _held(
    req: requirements.Req, repo: str, ref: str | None, previous: Lock, upgrading: set[str]
) -> str | None:
    """The commit the previous lock took from the same repo and ref (None: resolve it anew)."""
    for package in previous.packages:
        if package.kind != "vcs" or package.url is None or package.commit is None:
            continue
        if req.name is not None and package.name != req.name:
            continue
        old_repo, _, _ = requirements.split_vcs(requirements.normalise_file_url(package.url))
        if old_repo != repo or package.name in upgrading:
            continue
        if (ref or "HEAD") == (package.ref or package.commit):  # the same ref as then
            return package.commit
    return None


def refuse_unhashable(plugin: Plugin) -> None:
    """Raise naming the plugin's VCS and local-path requirements (``require-hashes = true``)."""
    bad = [text for text in plugin.requirements if not requirements.parse(text).hashable]
    if bad:
        shown = ", ".join(repr(redact(text)) for text in bad)
        raise LockError(
            f"settings.require-hashes is true but {shown} cannot be "
            "hash-checked (VCS and local paths have no hash; use an index or archive URL)",
            plugin=plugin.name,
        )


def previous_pins(text: str) -> str:
    """A previous lock as the resolver's existing output: its ``name==version`` pins only.

    Local-path and VCS lines are left out: their relative paths mean nothing in the resolver's
    directory, and the requirement lines already carry them (VCS held at their commit).
    """
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not line[0].isspace():
            skipping = stripped.startswith(("-e ", "./", "../", "/", "file:")) or bool(
                _NAMED_LINE.match(stripped)
            )
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def vcs_refs(plugin: Plugin) -> dict[str, str | None]:
    """``{repo URL: ref as declared}`` of the plugin's VCS requirements."""
    refs: dict[str, str | None] = {}
    for text in plugin.requirements:
        req = requirements.parse(text)
        if req.kind == "vcs" and req.url is not None:
            repo, ref, _ = requirements.split_vcs(requirements.normalise_file_url(req.url))
            refs[repo] = ref
    return refs


def finalise(body: str, plugin: Plugin, project_dir: Path) -> str:
    """Rewrite a resolver's output into reconciler's lock body (see the module docstring)."""
    refs = vcs_refs(plugin)
    out: list[str] = []
    for line in body.splitlines():
        if _WARNING.match(line):
            continue
        # A lock is meant for git: no URL in it keeps its credentials (installs take them from
        # the declared requirement, the settings, .netrc or the environment).
        out.append(strip_userinfo(_rewrite(line, plugin, project_dir, refs)))
    return "\n".join(out) + ("\n" if body.endswith("\n") else "")


_EDITABLE_LINE = re.compile(r"-e\s+(?P<url>\S+)\s*\Z")
_NAMED_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*(?P<url>\S+)(?P<rest>.*)\Z")


def _rewrite(line: str, plugin: Plugin, project_dir: Path, refs: dict[str, str | None]) -> str:
    editable = _EDITABLE_LINE.match(line)
    if editable:
        url = requirements.normalise_file_url(editable.group("url"))
        if url.startswith("file:"):
            directory = Path(unquote(urlsplit(url).path))
            name = project_name(directory, plugin)
            return f"-e {_relative(directory, project_dir)}  # reconciler: name={name}"
        return line
    named = _NAMED_LINE.match(line)
    if not named:
        return line
    name, url, rest = named.group("name"), named.group("url"), named.group("rest")
    url = requirements.normalise_file_url(url)
    if url.lower().startswith(requirements.VCS_SCHEMES):
        repo, ref, fragment = requirements.split_vcs(url)
        wanted = refs.get(repo, ref) or "HEAD"
        commit = ref if ref is not None and _HEX40.fullmatch(ref) else _commit(repo, ref, plugin)
        note = f"  # reconciler: ref={wanted}" if wanted != commit else ""
        return f"{name} @ {repo}@{commit}{fragment}{rest.rstrip()}{note}"
    if url.startswith("file:") and not requirements.is_archive(url) and "--hash" not in rest:
        directory = Path(unquote(urlsplit(url).path))
        return f"{_relative(directory, project_dir)}  # reconciler: name={canonicalize_name(name)}"
    return line


def _relative(directory: Path, project_dir: Path) -> str:
    rel = os.path.relpath(directory, project_dir.resolve())
    return rel if rel.startswith("../") or rel == ".." else f"./{rel}" if rel != "." else "."


def _commit(repo: str, ref: str | None, plugin: Plugin) -> str:
    """The commit id ``ref`` (a tag or branch; HEAD when None) names in ``repo``."""
    vcs, _, url = repo.partition("+")
    shown = redact(f"{repo}@{ref}" if ref else repo)
    if vcs.lower() != "git":
        raise LockError(
            f"{shown}: only git refs can be pinned to a commit; write the full revision id",
            plugin=plugin.name,
        )
    wanted = ref or "HEAD"
    try:
        result = procs.run(
            ["git", "ls-remote", "--", url, wanted, f"{wanted}^{{}}"],
            env={**hermetic_env(), "GIT_TERMINAL_PROMPT": "0"},
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LockError(
            f"cannot run git ls-remote for {shown}: {exc}",
            plugin=plugin.name,
        ) from exc
    if result.returncode != 0:
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        reason = next((ln for ln in lines if ln.startswith("fatal:")), lines[-1] if lines else "")
        raise LockError(
            redact(f"cannot read {shown}: {reason.removeprefix('fatal: ')}"), plugin=plugin.name
        )
    found: dict[str, str] = {}
    for entry in result.stdout.splitlines():
        sha, _, name = entry.partition("\t")
        found[name.strip()] = sha.strip()
    for key in (
        f"refs/tags/{wanted}^{{}}",
        f"refs/tags/{wanted}",
        f"refs/heads/{wanted}",
        wanted,
    ):
        if key in found:
            return found[key]
    raise LockError(
        redact(
            f"{shown}: no branch or tag {wanted!r} "
            "(write a full 40-character commit id to pin a commit)"
        ),
        plugin=plugin.name,
    )


def project_name(directory: Path, plugin: Plugin) -> str:
    """The canonical distribution name of the local project at ``directory``.

    Read statically from ``pyproject.toml`` (``[project] name``) or ``setup.cfg``; otherwise pip
    prepares the metadata (``pip install --dry-run --report``).
    """
    import configparser  # noqa: PLC0415 - start-up: only a local project's name is read
    import tomllib  # noqa: PLC0415 - start-up: as above

    try:
        data = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
        if isinstance(name, str) and name:
            return canonicalize_name(name)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass
    parser = configparser.ConfigParser()
    try:
        parser.read(directory / "setup.cfg", encoding="utf-8")
        if parser.has_option("metadata", "name"):
            return canonicalize_name(parser.get("metadata", "name"))
    except (configparser.Error, UnicodeDecodeError):
        pass
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet",
        "--report", "-", str(directory),
    ]  # fmt: skip
    result = procs.run(command, env=hermetic_env())
    try:
        report = json.loads(result.stdout)
        return canonicalize_name(report["install"][0]["metadata"]["name"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LockError(
            f"cannot read the name of the local project {directory}",
            plugin=plugin.name,
        ) from exc
