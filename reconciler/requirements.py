"""Requirement strings in pip's own spellings: the one place that says which forms are valid.

Every source (reconciler.toml, meltano.yml) validates its requirement strings here, so a form
accepted by one is accepted by all.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement


def check(text: str) -> None:
    """Raise :class:`ValueError` with a one-line reason when ``text`` is not a valid requirement."""
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc
