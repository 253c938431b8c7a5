"""PEP 508 requirements parsed within bounds, whatever the text (a hostile lock or project file).

packaging's parser recurses on parenthesised markers: ``a ; ((((...`` ten thousand deep ends in
``RecursionError``. Every requirement reconciler parses goes through :func:`requirement`, which
turns that, and text longer than any real requirement, into packaging's own
``InvalidRequirement`` that every caller already reports as one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

#: Longer than any requirement a resolver writes (a direct URL with a long query string fits).
MAX_LENGTH = 8192
#: More opening parentheses than any real marker nests.
MAX_PARENTHESES = 64


def requirement(text: str) -> Requirement:
    """``Requirement(text)``; InvalidRequirement for text too long or nested too deeply."""
    from packaging.requirements import (  # noqa: PLC0415 - packaging loads only when needed
        InvalidRequirement,
        Requirement,
    )

    if len(text) > MAX_LENGTH:
        raise InvalidRequirement(f"longer than {MAX_LENGTH} characters")
    if text.count("(") > MAX_PARENTHESES:
        raise InvalidRequirement("markers nested too deeply")
    try:
        return Requirement(text)
    except RecursionError:
        raise InvalidRequirement("markers nested too deeply") from None
