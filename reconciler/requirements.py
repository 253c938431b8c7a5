"""Requirement strings in pip's own spellings: the one place that says which forms are valid.

Every source (reconciler.toml, meltano.yml) validates its requirement strings here, so a form
accepted by one is accepted by all.

The commonest forms -- a bare name (``tap-csv``) or a name with one plain version specifier
(``tap-csv==1.2.0``, ``requests>=2.31``) -- are recognised by one regex, so the plan path does
not import packaging's requirement parser for them; everything else goes to packaging.
"""

from __future__ import annotations

import re

SIMPLE = re.compile(
    r"[ \t]*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*"
    r"(?:(?P<op>==|!=|<=|>=|<|>|~=)[ \t]*"
    r"(?P<version>(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*))?[ \t]*"
)


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


def check(text: str) -> None:
    """Raise :class:`ValueError` with a one-line reason when ``text`` is not a valid requirement."""
    if _simple(text) is not None:
        return
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc


def normalised(text: str) -> str:
    """``str(packaging.requirements.Requirement(text))``, without packaging for simple forms."""
    simple = _simple(text)
    if simple is not None:
        return simple
    from packaging.requirements import Requirement  # noqa: PLC0415

    return str(Requirement(text))
