"""Requirement strings in pip's own spellings: the one place that says which forms are valid.

Every source (reconciler.toml, meltano.yml) validates its requirement strings here, so a form
accepted by one is accepted by all. The API is two functions and one value class:

- :func:`parse` turns one string into a :class:`Req` (or raises :class:`ValueError` with a
  one-line reason); :func:`check` only validates.
- :class:`Req` says what kind of requirement it is and carries what the locker needs.

Accepted forms (pip's spellings, so a Meltano ``pip_url`` maps token for token):

- ``tap-x==1.0``, ranges, extras, markers (``index``): PEP 508, resolved from the index;
- ``tap-x @ https://h/tap_x-1.0-py3-none-any.whl`` or ``@ file:///...whl`` (``url``): a direct
  archive URL (wheel or sdist), locked with its hash;
- ``tap-x @ git+https://h/r@ref`` (``vcs``; git, hg, svn, bzr): the lock pins the commit id;
  bare ``git+https://h/r.git@ref`` is the same, named from the built metadata at lock time;
- ``./plugins/tap-x``, ``../x``, ``/abs/x``, ``file:///abs/x``, ``plugins/tap-x`` (``path``): a
  local project, relative to the project file; ``-e ./plugins/tap-x`` (or ``-e plugins/tap-x``)
  installs it editable.

A source that splits a command line (Meltano's ``pip_url``) passes ``-e`` and its argument as one
string: ``parse("-e extract/tap-x")``.

``Req.hashable`` is False for VCS and local-path requirements: they cannot be installed with
``--require-hashes``.

The commonest forms -- a bare name (``tap-csv``), a name with one plain version specifier
(``tap-csv==1.2.0``, ``requests>=2.31``) and a direct reference without extras or marker
(``tap-x @ git+https://h/r@ref``, a plugin from git) -- are recognised by a regex each, read as
packaging reads them, so the plan path does not import packaging's requirement parser for them
(~200M instructions, more than the rest of a plan); everything else goes to packaging.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reconciler.support import pep508
from reconciler.support.names import (
    ARCHIVE_SUFFIXES,
    NAME_PATTERN,
    PLAIN_VERSION_PATTERN,
    canonical_name,
)
from reconciler.support.values import frozen

VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
#: Compiled by ``re`` on first use (``-e`` lines are rare), not at every plan's start-up.
_EDITABLE_RE = r"^(?:-e|--editable)(?:\s+|=)(?P<rest>\S.*)\Z"


SIMPLE = re.compile(
    rf"[ \t]*(?P<name>{NAME_PATTERN})[ \t]*"
    r"(?:(?P<op>==|!=|<=|>=|<|>|~=)[ \t]*"
    rf"(?P<version>{PLAIN_VERSION_PATTERN}))?[ \t]*"
)


#: ``name @ URL``, nothing else: what packaging reads as that name and that URL (its URL token is
#: any run of characters but space and tab; this one also stops at other white space and ``;``,
#: which packaging is left to judge).
DIRECT = re.compile(rf"(?P<name>{NAME_PATTERN})[ \t]*@[ \t]*(?P<url>[^\s;]+)")


def is_archive(url: str) -> bool:
    """True when ``url`` (fragment ignored) names an archive pip installs (wheel or sdist)."""
    return url.split("#", 1)[0].endswith(ARCHIVE_SUFFIXES)


def _simple(text: str) -> str | None:
    """``packaging``'s spelling of ``text`` when it is a bare name or ``name OP X.Y``; else None."""
    match = SIMPLE.fullmatch(text)
    if match is None:
        return None
    name, op, version = match.group("name", "op", "version")
    if op is None:
        return name
    if op == "~=" and "." not in version:
        return None  # ~= needs two release segments: let packaging say so
    return f"{name}{op}{version}"


@frozen
class Req:
    """One requirement string, understood.

    ``kind`` is ``index``, ``url``, ``vcs`` or ``path``; ``name`` the canonical name (None for a
    bare VCS URL or a path, whose name comes from the built metadata); ``url`` the direct URL
    (``git+https://...@ref`` for VCS), ``path`` the local path as written (for ``path``),
    ``editable`` whether ``-e`` was given. ``text`` is the string as written.
    """

    text: str
    kind: str
    name: str | None = None
    url: str | None = None
    path: str | None = None
    editable: bool = False
    extras: tuple[str, ...] = ()
    marker: str | None = None

    @property
    def hashable(self) -> bool:
        """True when pip can install it with ``--require-hashes`` (index and archive URLs)."""
        return self.kind in ("index", "url")

    def local_path(self, project_dir: Path) -> Path | None:
        """The absolute local directory or file of a ``path`` requirement (None otherwise)."""
        if self.kind != "path" or self.path is None:
            return None
        return Path(_path_of(self.path, project_dir))

    def for_resolver(self, project_dir: Path) -> str:
        """The requirement line to hand to a resolver running in another directory.

        Local paths become absolute (``file://`` URLs); everything else is unchanged.
        """
        if self.kind != "path":
            return self.text
        local = self.local_path(project_dir)
        assert local is not None  # noqa: S101 - kind is path
        url = local.as_uri()
        prefix = "-e " if self.editable else ""
        if self.name is not None:
            extras = f"[{','.join(self.extras)}]" if self.extras else ""
            return f"{prefix}{self.name}{extras} @ {url}"
        return f"{prefix}{url}"


def check(text: str) -> None:
    """Raise :class:`ValueError` with a one-line reason when ``text`` is not a valid requirement."""
    if _simple(text) is None:
        parse(text)


def parse(text: str) -> Req:
    """Understand one requirement string (see the module docstring for the forms)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty requirement")
    simple = _simple(stripped)
    if simple is not None:
        name = re.split(r"[=!<>~]", simple, maxsplit=1)[0]
        return Req(text=text, kind="index", name=canonical_name(name))
    stripped, editable = _editable(stripped)
    if stripped.lower().startswith(VCS_SCHEMES):
        _check_vcs_url(stripped)
        _not_editable_vcs(editable)
        return Req(text=text, kind="vcs", url=stripped)
    if _looks_like_path(stripped) or _bare_path(stripped, editable):
        if any(c.isspace() for c in stripped):
            raise ValueError("a local path must not contain spaces")
        return Req(text=text, kind="path", path=stripped, editable=editable)
    return _pep508(text, stripped, editable)


def direct_reference(text: str) -> tuple[str, str] | None:
    """(name as written, URL) of a plain ``name @ URL``, exactly what packaging's
    ``Requirement(text)`` (through :func:`pep508.requirement`) reads as its name and URL, with no
    extras, specifier or marker; None for any other text (packaging is left to judge it)."""
    if len(text) > pep508.MAX_LENGTH or text.count("(") > pep508.MAX_PARENTHESES:
        return None
    match = DIRECT.fullmatch(text.strip(" \t"))
    return None if match is None else (match["name"], match["url"])


def _pep508(text: str, stripped: str, editable: bool) -> Req:
    """A PEP 508 requirement: from the index, or ``name @ URL``."""
    direct = direct_reference(stripped)
    if direct is not None:
        name, url = canonical_name(direct[0]), direct[1]
        extras: tuple[str, ...] = ()
        marker: str | None = None
    else:
        from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: packaging stays off the plan path

        try:
            requirement = pep508.requirement(stripped)
        except InvalidRequirement as exc:
            raise ValueError(str(exc).splitlines()[0]) from exc
        name = canonical_name(requirement.name)
        extras = tuple(sorted(requirement.extras))
        marker = str(requirement.marker) if requirement.marker else None
        if requirement.url is None:
            if editable:
                raise ValueError("-e needs a local path or a VCS URL")
            return Req(text=text, kind="index", name=name, extras=extras, marker=marker)
        url = requirement.url
    if url.lower().startswith(VCS_SCHEMES):
        _check_vcs_url(url)
        _not_editable_vcs(editable)
        return Req(text, "vcs", name, url, None, False, extras, marker)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        local = unquote(urlsplit(url).path)
        if not local.endswith(ARCHIVE_SUFFIXES) or editable:
            return Req(text, "path", name, url, url, editable, extras, marker)
    elif scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r}")
    if editable:
        raise ValueError("-e needs a local path or a VCS URL, not an archive URL")
    return Req(text, "url", name, url, None, False, extras, marker)


def _editable(text: str) -> tuple[str, bool]:
    match = re.match(_EDITABLE_RE, text)
    if match:
        return match.group("rest").strip(), True
    if text.startswith("-"):
        raise ValueError(f"unsupported option {text.split(maxsplit=1)[0]!r} (only -e/--editable)")
    return text, False


def _bare_path(text: str, editable: bool) -> bool:
    """``extract/tap-x``: pip takes a string with a ``/`` (or any after ``-e``) that is no PEP 508
    requirement as a path (Meltano's ``pip_url: -e extract/tap-x`` relies on it)."""
    if ("/" not in text and not editable) or "@" in text or "://" in text:
        return False
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: packaging stays off the plan path

    try:
        pep508.requirement(text)
    except InvalidRequirement:
        return True
    return False


def _looks_like_path(text: str) -> bool:
    return text.startswith(("./", "../", "/", "~", "file:")) or text in (".", "..")


def _not_editable_vcs(editable: bool) -> None:
    if editable:
        raise ValueError(
            "editable VCS checkouts are not supported (drop -e: the lock pins the commit; "
            "for live edits clone it and use -e ./path)"
        )


def _check_vcs_url(url: str) -> None:
    parts = urlsplit(url.split("+", 1)[1])
    if not parts.scheme or not (parts.netloc or parts.scheme == "file"):
        raise ValueError(f"invalid VCS URL {url!r}")


def _path_of(path: str, project_dir: Path) -> str:
    """An absolute path for a path requirement (``file:`` URLs and ``~`` understood)."""
    if path.startswith("file:"):
        parts = urlsplit(path)
        return unquote(parts.path)
    return str((project_dir / Path(path).expanduser()).resolve())


def split_vcs(url: str) -> tuple[str, str | None, str]:
    """``git+https://h/r@ref#frag`` -> (``git+https://h/r``, ``ref`` or None, ``#frag``)."""
    fragment = ""
    if "#" in url:
        url, fragment = url.split("#", 1)
        fragment = "#" + fragment
    scheme_end = url.index("://") + 3 if "://" in url else url.index(":") + 1
    head, tail = url[:scheme_end], url[scheme_end:]
    path_start = tail.find("/")
    if path_start >= 0 and "@" in tail[path_start:]:
        repo, ref = tail.rsplit("@", 1)
        return head + repo, ref, fragment
    return url, None, fragment


def normalise_file_url(url: str) -> str:
    """``git+file:/x`` (pip's spelling in some outputs) -> ``git+file:///x``."""
    return re.sub(r"(^|\+)file:/(?!/)", r"\1file:///", url)
