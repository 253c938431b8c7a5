"""Installed files checked against ``*.dist-info/RECORD`` (``plan --verify``), read-only.

Only imported when ``--verify`` is given: a plain plan reads no RECORD and hashes nothing.

Every file a distribution's ``RECORD`` lists is checked by size and by hash (the wheel spec's
``sha256=<urlsafe base64, no padding>``; any other algorithm ``hashlib`` guarantees, except
md5 and sha1, is checked the same way). A listed file that is gone is ``missing``; one whose
size or hash differs, or that is no longer a regular file (a symlink, a FIFO), is ``modified``.
Entries under ``__pycache__`` are skipped (byte code is written and dropped by interpreters, and
``RECORD`` lists it without a hash), as are entries without a hash (``RECORD`` itself).

"Unexpected" files: a distribution owns the top-level directories of ``site-packages`` its
``RECORD`` lists files in (``demo_common/``, ``demo_common-1.1.0.dist-info/``). Every file (or
symlink) below an owned directory, outside ``__pycache__``, that no ``RECORD`` of the venv lists
is ``unexpected``; it is blamed on the owner(s) whose ``RECORD`` lists a file in its nearest
directory (a namespace package shared by several distributions blames the right one). Files
directly in ``site-packages`` (``*.pth`` files, ``_virtualenv.py``) and directories no
``RECORD`` mentions belong to no distribution and are not checked.

A ``RECORD`` path that leads outside the venv is never opened (a hostile or broken ``RECORD``),
nor is one below a top-level directory that has become a symlink (reported ``modified`` once,
as that directory). Files are opened without following a symlink at the last component and only
after ``lstat`` says they are regular files, so a FIFO or device is never opened. A symlink
deeper down, where an installed directory was, is an unexpected entry itself.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import re
import stat
from collections.abc import Iterable

from reconciler.models import FileDrift
from reconciler.support.names import canonical_name

#: Hash algorithms a RECORD may use (the wheel spec forbids md5 and sha1).
_ALGORITHMS = frozenset(hashlib.algorithms_guaranteed) - {"md5", "sha1"}
_SKIP = "__pycache__"
_CHUNK = 1 << 20
#: A relative path with no empty, ``.`` or ``..`` part (what installers write): used as is.
_PLAIN = re.compile(r"(?!\.\.?(?:/|\Z))[^/]+(?:/(?!\.\.?(?:/|\Z))[^/]+)*")


def verify(venv: str, site: str) -> tuple[FileDrift, ...]:
    """Every file of ``site`` (the venv's site-packages) that differs from its RECORD entry,
    is missing, or is unexpected; sorted by distribution and path. ``venv`` bounds every path
    that is read."""
    venv = os.path.realpath(venv)
    site = os.path.realpath(site)
    try:
        entries = sorted(os.listdir(site))
    except OSError:
        return ()  # observe already reports an unreadable site-packages
    prefix = site + os.sep
    drift: list[FileDrift] = []
    listed: set[str] = set()
    owners: dict[str, set[str]] = {}  # top-level directory -> distributions listing files in it
    dirs_of: dict[str, set[str]] = {}  # distribution -> directories it lists files in
    for entry in entries:
        if not entry.endswith(".dist-info"):
            continue
        name = canonical_name(entry[: -len(".dist-info")].rpartition("-")[0] or entry)
        record = os.path.join(site, entry, "RECORD")  # noqa: PTH118 - plain strings throughout
        rows = _read_record(record)
        if rows is None:
            drift.append(FileDrift(name, f"{entry}/RECORD", "missing"))
            continue
        dirs = dirs_of.setdefault(name, set())
        drift.extend(_check_rows(name, rows, site, venv, listed, owners, dirs))
    for top in sorted(owners):
        for full in _unlisted(os.path.join(site, top), listed):  # noqa: PTH118
            rel = full[len(prefix) :]
            for name in _blame(rel, owners[top], dirs_of):
                drift.append(FileDrift(name, _shown(full, site, venv), "unexpected"))
    return tuple(sorted(set(drift), key=lambda d: (d.dist, d.path, d.problem)))


def _check_rows(
    name: str,
    rows: list[tuple[str, str, int | None]],
    site: str,
    venv: str,
    listed: set[str],
    owners: dict[str, set[str]],
    dirs: set[str],
) -> list[FileDrift]:
    """Check one distribution's RECORD rows; record what they list and own as they go."""
    prefix = site + os.sep
    links: dict[str, bool] = {}
    drift = []
    for path, digest, size in rows:
        rel: str | None
        if _PLAIN.fullmatch(path):  # the usual, normalised RECORD path: no join/normpath
            full, rel = prefix + path, path
        else:
            full = os.path.normpath(os.path.join(site, path))  # noqa: PTH118
            if not _inside(full, venv):
                continue  # never read outside the venv
            rel = full[len(prefix) :] if full.startswith(prefix) else None
        listed.add(full)
        if rel is not None:
            top, sep, _ = rel.partition("/")
            if sep:
                owners.setdefault(top, set()).add(name)
                dirs.add(rel.rpartition("/")[0])
                if _is_link(prefix + top, links):  # never read through it
                    drift.append(FileDrift(name, top, "modified"))
                    continue
        if not digest or "__pycache__/" in path:
            continue
        problem = _check(full, digest, size)
        if problem is not None:
            drift.append(FileDrift(name, _shown(full, site, venv), problem))
    return drift


def _is_link(path: str, seen: dict[str, bool]) -> bool:
    """True when ``path`` (a top-level entry of site-packages) is a symlink (memoised)."""
    found = seen.get(path)
    if found is None:
        found = seen[path] = os.path.islink(path)  # noqa: PTH114 - plain strings, hot loop
    return found


def _read_record(path: str) -> list[tuple[str, str, int | None]] | None:
    """``(path, hash, size)`` rows of a RECORD file; None when it cannot be read."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(path, encoding="utf-8", newline="") as handle:  # noqa: PTH123
            rows = []
            for row in csv.reader(handle):
                if not row or not row[0]:
                    continue
                digest = row[1] if len(row) > 1 else ""
                size_text = row[2] if len(row) > 2 else ""
                size = int(size_text) if size_text.isdigit() else None
                rows.append((row[0], digest, size))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _inside(path: str, root: str) -> bool:
    return path.startswith(root + os.sep)


def _shown(full: str, site: str, venv: str) -> str:
    """The path people see: relative to site-packages, else to the venv (``bin/tap-x``)."""
    base = site if _inside(full, site) else venv
    return os.path.relpath(full, base).replace(os.sep, "/")


def _check(path: str, digest: str, size: int | None) -> str | None:
    """``missing``/``modified``, or None when the file matches its RECORD entry."""
    algorithm, sep, expected = digest.partition("=")
    if not sep or algorithm not in _ALGORITHMS:
        return None  # not checkable: a RECORD this reader does not understand
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "modified"
    if not stat.S_ISREG(st.st_mode):
        return "modified"  # a symlink, directory, FIFO or device where a file was installed
    if size is not None and st.st_size != size:
        return "modified"
    found = _digest(path, algorithm, st.st_size)
    return None if found == expected.rstrip("=") else "modified"


def _digest(path: str, algorithm: str, size: int) -> str | None:
    """The RECORD-style digest of the regular file ``path`` (None when it cannot be read as
    one: it was swapped for a symlink or special file since ``lstat``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.new(algorithm)
        # one read for the usual small file (its size is known), bounded chunks for big ones
        want = min(size + 1, _CHUNK)
        while True:
            chunk = os.read(fd, want)
            digest.update(chunk)
            if len(chunk) < want:  # end of file (a regular file reads in full otherwise)
                break
            want = _CHUNK
    except OSError:
        return None
    finally:
        os.close(fd)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def _unlisted(top: str, listed: set[str]) -> Iterable[str]:
    """Files and symlinks below ``top`` (outside ``__pycache__``) that no RECORD lists."""
    try:
        if not stat.S_ISDIR(os.lstat(top).st_mode):
            return  # a top-level module file or a symlink: its RECORD entry is checked
    except OSError:
        return
    for directory, dirnames, filenames in os.walk(top):  # never follows symlinks
        kept = []
        for name in sorted(dirnames):
            full = os.path.join(directory, name)  # noqa: PTH118
            if os.path.islink(full):  # noqa: PTH114 - os.walk gives strings
                if full not in listed:
                    yield full
            elif name != _SKIP:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = os.path.join(directory, name)  # noqa: PTH118
            if full not in listed:
                yield full


def _blame(rel: str, candidates: set[str], dirs_of: dict[str, set[str]]) -> list[str]:
    """The owners of the nearest directory of ``rel`` that some candidate lists files in."""
    if len(candidates) > 1:
        directory = os.path.dirname(rel)  # noqa: PTH120
        while directory:
            near = {name for name in candidates if directory in dirs_of.get(name, ())}
            if near:
                return sorted(near)
            directory = os.path.dirname(directory)  # noqa: PTH120
    return sorted(candidates)
