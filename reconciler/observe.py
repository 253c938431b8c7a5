"""Observe a layout's venvs: ``pyvenv.cfg``, ``*.dist-info`` and state markers, no subprocess."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.layouts import MARKER_NAME, Layout, path_facts
from reconciler.models import DirectUrl, InstalledDist, MarkerStatus, Observation, ObservedVenv
from reconciler.state import MarkerCorrupt, read_marker
from reconciler.support import venvcfg
from reconciler.support.files import read_regular, read_unlinked
from reconciler.support.names import PLAIN_VERSION, canonical_name, normal_version
from reconciler.support.paths import file_kind
from reconciler.support.values import evolve


def observe(layout: Layout, verify: Collection[str] | bool = False) -> Observation:
    """Every venv-like entry of ``layout`` (declared or not).

    ``verify`` (True for every venv, or the plugin names) also checks the installed files of
    those venvs against their ``RECORD`` (:mod:`reconciler.records`); without it no RECORD is
    read.
    """
    root = layout.root
    if not root.exists():
        return Observation(root=root, venvs=())
    if not root.is_dir():
        raise ReconcilerError(f"venv root {root} exists but is not a directory")
    try:
        entries = layout.entries()
    except OSError as exc:
        raise ReconcilerError(f"cannot read venv root {root}: {exc}") from exc
    try:  # resolved once, not again for every venv (strict: a link loop resolves nothing)
        real_root: str | None = os.path.realpath(root, strict=True)
    except OSError:
        real_root = None
    venvs = tuple(observe_venv(path, name, layout, real_root=real_root) for name, path in entries)
    if verify:
        wanted = None if verify is True else set(verify)
        venvs = tuple(_verified(v) if wanted is None or v.name in wanted else v for v in venvs)
    return Observation(root=root, venvs=venvs)


def _verified(venv: ObservedVenv) -> ObservedVenv:
    """``venv`` with its files checked against RECORD (a venv that is reinstalled anyway, or
    has no site-packages, is left as it is)."""
    if venv.problems or not venv.managed:
        return venv
    from reconciler import records  # noqa: PLC0415 - only `--verify` pays for hashing

    site = site_packages(venv.path, venvcfg.read(venv.path))
    if site is None:
        return venv
    return evolve(venv, files=records.verify(str(venv.path), str(site)))


def observe_venv(
    path: Path,
    name: str | None = None,
    layout: Layout | None = None,
    *,
    real_root: str | None = None,
) -> ObservedVenv:
    """Read one venv directory: its marker, interpreter link and installed distributions.

    ``name`` is the plugin (default: the directory's name). With ``layout``, ``path`` is that
    plugin's stable path: a symlink there is followed only into reconciler's own generations,
    and the layout's extra files are checked. ``real_root``: the layout's root with every
    symlink resolved (its location is then found without resolving the whole path again).
    """
    name = path.name if name is None else name
    foreign, blocked, plain = (None, None, None) if layout is None else path_facts(layout, name)
    # the link read at the stable path, when ``path`` is that path and the root is resolved
    link = plain[1] if plain is not None and real_root and str(path) == plain[0] else None
    if foreign is not None or not path.is_dir():
        return ObservedVenv(
            name=name,
            path=path,
            has_marker_file=False,
            marker=None,
            problems=(foreign or "not a directory",),
            dists=(),
            blocked=blocked,
        )
    problems: list[str] = []
    has_marker_file = _exists(os.path.join(path, MARKER_NAME))  # noqa: PTH118 - hot path
    marker = None
    try:
        marker = read_marker(path)
    except MarkerCorrupt as exc:  # MarkerUnreadable too: "state marker unreadable (...)"
        problems.append(str(exc))
    if has_marker_file and marker is not None:
        if marker.plugin != name:
            problems.append(f"state marker names another plugin ({marker.plugin!r})")
        if marker.status is MarkerStatus.BUILDING:
            problems.append("incomplete (interrupted build)")
        elif marker.status is MarkerStatus.UPGRADING:
            problems.append("incomplete (interrupted upgrade)")
    elif not has_marker_file:
        claimed = None if layout is None else layout.claimed_by_tool(path)
        if claimed is not None:
            # another tool's venv, replaced whole: its own defects are not worth listing
            return ObservedVenv(
                name=name,
                path=path,
                has_marker_file=False,
                marker=None,
                problems=(claimed,),
                dists=(),
                location=os.path.realpath(path),
            )
        if blocked is None:  # else the plan says why apply refuses it (a blocked step)
            problems.append("incomplete (no state marker)")
    cfg = venvcfg.read(path)
    if cfg is None:
        problems.append("incomplete (no pyvenv.cfg)")
    if cfg is not None and not _exists(os.path.join(path, "bin", "python")):  # noqa: PTH118 - hot path
        target = marker.python_executable if marker else cfg.get("home", "?")
        problems.append(f"interpreter {target} missing")
    dists, dist_problems = _read_dists(path, cfg)
    problems.extend(dist_problems)
    stale_files = () if layout is None else _stale_files(path, layout.extra_files(name))
    # an extra file apply cannot replace in place (a link, FIFO, directory there): the venv is
    # rebuilt as a new generation instead, never planned as an upgrade apply would refuse
    problems.extend(_not_regular(path, stale_files))
    return ObservedVenv(
        name=name,
        path=path,
        has_marker_file=has_marker_file,
        marker=marker,
        problems=tuple(problems),
        dists=dists,
        stale_files=stale_files,
        location=os.path.realpath(path)
        if link is None or real_root is None
        else _real_path(path, link, real_root),
        blocked=blocked,
    )


def _real_path(path: Path, link: str, real_root: str) -> str:
    """``os.path.realpath(path)`` for a stable path whose ``link`` :func:`path_facts` found
    plain: the real root joined with the link, unless its last part (the generation) is itself
    a symlink (then resolved as usual). As realpath does, a part that cannot be looked at is
    taken as it is written."""
    real = os.path.join(real_root, link)  # noqa: PTH118 - hot path
    try:
        if stat.S_ISLNK(os.lstat(real).st_mode):
            return os.path.realpath(path)
    except OSError:
        pass
    return real


#: The errors ``Path.exists`` takes for "absent" (any other is raised, as it raises them).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _exists(path: str) -> bool:
    """``Path(path).exists()`` on a string: no Path made (observe asks it of every venv)."""
    try:
        os.stat(path)  # noqa: PTH116 - hot path
    except OSError as exc:
        if exc.errno not in _ABSENT:
            raise
        return False
    except ValueError:
        return False
    return True


def _stale_files(path: Path, wanted: Mapping[str, str]) -> tuple[str, ...]:
    """The names of the layout's extra files that are missing or differ in ``path``."""
    stale = []
    for file_name, text in sorted(wanted.items()):
        try:
            same = read_regular(path / file_name, path).decode("utf-8") == text
        except (OSError, UnicodeDecodeError, ReconcilerError):
            same = False
        if not same:
            stale.append(file_name)
    return tuple(stale)


def _not_regular(path: Path, names: tuple[str, ...]) -> list[str]:
    """Why each of ``names`` in ``path`` cannot be replaced in place (it exists and is not a
    regular file: a symlink is never written through)."""
    found = []
    for file_name in names:
        try:
            mode = os.lstat(path / file_name).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            found.append(f"{file_name} is {file_kind(mode)}, not a file")
    return found


def site_packages(path: Path, cfg: dict[str, str] | None) -> Path | None:
    """The venv's purelib directory, from ``pyvenv.cfg``'s version or by looking."""
    version = venvcfg.python_version(cfg) or ""
    major_minor = ".".join(version.split(".")[:2])
    if major_minor:  # one Path parsed, not three joined (observe asks this of every venv)
        candidate = Path(os.path.join(path, "lib", f"python{major_minor}", "site-packages"))  # noqa: PTH118 - hot path
        if candidate.is_dir():
            return candidate
    found = sorted((path / "lib").glob("python3*/site-packages"))
    return found[0] if len(found) == 1 else None


def _read_dists(
    path: Path, cfg: dict[str, str] | None
) -> tuple[tuple[InstalledDist, ...], list[str]]:
    site = site_packages(path, cfg)
    if site is None:
        return (), ([] if cfg is None else ["incomplete (no site-packages)"])
    problems: list[str] = []
    try:
        entries = os.listdir(site)
    except OSError as exc:
        return (), [f"cannot read site-packages: {exc.strerror}"]
    prefix = f"{site}{os.sep}"
    # (name, version, position, direct): sorted as (name, version) with ties kept in listing
    # order, then made into values; strings and inlined checks (a venv holds dozens of these)
    found: list[tuple[str, str, int, DirectUrl | None]] = []
    seen: set[str] = set()
    duplicates: set[str] = set()
    for entry in entries:
        if not entry.endswith(".dist-info"):
            continue
        stem = entry[: -len(".dist-info")]
        raw_name, sep, raw_version = stem.rpartition("-")
        try:
            if not sep or not raw_name:
                raise ValueError(stem)
            version = (
                raw_version
                if PLAIN_VERSION.fullmatch(raw_version)  # normal_version's own first test
                else normal_version(raw_version)
            )
        except ValueError:  # packaging's InvalidVersion is one
            problems.append(f"broken distribution {entry}")
            continue
        base = f"{prefix}{entry}{os.sep}"
        try:  # os.path.isfile, without its frame
            regular = stat.S_ISREG(os.stat(base + "METADATA").st_mode)  # noqa: PTH116 - hot loop
        except (OSError, ValueError):
            regular = False
        if not regular:
            problems.append(f"broken distribution {entry} (no METADATA)")
            continue
        direct_url = base + "direct_url.json"
        # an absent direct_url.json (an index install) is told by access(), without raising
        direct = _read_direct_url(direct_url) if os.access(direct_url, os.F_OK) else None
        name = canonical_name(raw_name)
        if name in seen:
            duplicates.add(name)
        seen.add(name)
        found.append((name, version, len(found), direct))
    problems.extend(f"duplicate dist-info for {name}" for name in sorted(duplicates))
    found.sort()
    return tuple(InstalledDist(name, version, direct) for name, version, _, direct in found), (
        problems
    )


def _read_direct_url(path: str) -> DirectUrl | None:
    """PEP 610 ``direct_url.json`` of one distribution (None when absent or unreadable)."""
    try:
        data = json.loads(read_unlinked(path))  # never a FIFO or a link left in a venv by hand
    except (OSError, UnicodeDecodeError, ValueError, ReconcilerError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    vcs = data.get("vcs_info")
    directory = data.get("dir_info")
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    editable = bool(directory.get("editable")) if isinstance(directory, dict) else False
    return DirectUrl(
        url=data["url"],
        commit=commit if isinstance(commit, str) else None,
        editable=editable,
        is_dir=isinstance(directory, dict),
    )


#: Directories a source fingerprint ignores: VCS data, caches and build outputs (a build writes
#: ``build/`` and ``*.egg-info`` into the tree; they must not make the next plan see a change).
_SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "build", "dist", ".venv", "venv", ".tox", ".nox",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".eggs",
    }
)  # fmt: skip


def source_fingerprint(path: Path) -> str:
    """A digest of a local project's tree: every file's relative path, size and mtime.

    No file is read, so a no-op plan stays cheap; an edit (or a ``touch``) changes it. Missing
    paths give ``"missing"``.
    """
    import hashlib  # noqa: PLC0415 - only plans with non-editable local projects need it

    digest = hashlib.sha256()
    if path.is_file():
        st = path.stat()
        digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return digest.hexdigest()[:32]
    if not path.is_dir():
        return "missing"
    for directory, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            full = os.path.join(directory, name)  # noqa: PTH118 - os.walk gives strings
            try:
                st = os.lstat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, path)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
