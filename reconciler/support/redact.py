"""Hide credentials in URLs before anything is printed or written.

Both functions scan in linear time whatever the text (a lock line of garbage, a 50 MB file):
they look for ``://`` with :meth:`str.find` and walk back over the scheme, instead of a regex
whose every start position rescans a run of letters (quadratic on ``aaaa...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
#: Compiled by ``re`` on first use, not at every plan's start-up.
_WORD = r"[^\s\"'<>]+"  # a URL ends at whitespace or a quote


def _userinfo_spans(text: str) -> list[tuple[int, int, int]]:
    """``(scheme start, userinfo start, index of '@')`` of every URL with userinfo in ``text``.

    The userinfo is what stands between ``://`` and the last ``@`` before the URL's end
    (whitespace, a quote, or the next ``://``); when that stretch holds a ``/`` before the
    ``@``, it counts only if a ``:`` not followed by a port comes before the ``/``
    (``user:pa/ss@host``: a password holding a slash), so that ``git+https://host/repo@v1``
    and ``git+https://host:8080/repo@v1`` keep their ref. Every character is
    looked at a bounded number of times.
    """
    spans: list[tuple[int, int, int]] = []
    for token in re.finditer(_WORD, text):
        offset, word = token.start(), token.group()
        marks = []
        found = word.find("://")
        while found >= 0:
            marks.append(found)
            found = word.find("://", found + 3)
        for index, mark in enumerate(marks):
            start = mark
            while start > 0 and word[start - 1] in _SCHEME_CHARS:
                start -= 1
            if start == mark or not word[start].isalpha():
                continue
            begin = mark + 3
            stop = marks[index + 1] if index + 1 < len(marks) else len(word)
            at = word.rfind("@", begin, stop)
            if at < 0:
                continue
            slash = word.find("/", begin, at)
            if slash >= 0:
                before = word.rfind("@", begin, slash)
                colon = word.find(":", begin, slash)
                if before >= 0:
                    at = before  # the usual case: the userinfo ends before the path
                elif colon < 0 or word[colon + 1 : slash].isdigit():  # no password, or a port
                    continue
            spans.append((offset + start, offset + begin, offset + at))
    return spans


def _rewrite(text: str, userinfo: Callable[[str, str], tuple[str, int]]) -> str:
    """``text`` with every URL's userinfo replaced: ``userinfo(scheme, info)`` gives the
    replacement and how many characters after the userinfo to drop (1 drops the ``@``)."""
    spans = _userinfo_spans(text)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, begin, at in spans:
        scheme = text[start : begin - 3].lower().rsplit("+", 1)[-1]
        replacement, skip = userinfo(scheme, text[begin:at])
        out.append(text[last:begin])
        out.append(replacement)
        last = at + skip
    out.append(text[last:])
    return "".join(out)


def redact(text: str) -> str:
    """Replace ``user:secret@`` in every URL of ``text`` with ``****@``."""
    return _rewrite(text, lambda _scheme, _info: ("****", 0))


def _stripped(scheme: str, info: str) -> tuple[str, int]:
    if scheme in ("http", "https"):
        return "", 1  # the whole userinfo and its '@'
    return info.split(":", 1)[0], 0  # the user name stays, the password goes


def strip_userinfo(text: str) -> str:
    """``text`` with the credentials of every URL removed (for files meant for git).

    An ``http``/``https`` URL (also under ``git+``) loses its whole userinfo (a token is often
    given as the user name); any other scheme (``git+ssh://git@host``) keeps its user name and
    loses only a password.
    """
    return _rewrite(text, _stripped)


#: How much of a line of input an error message quotes.
QUOTE_LIMIT = 120


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of ``text`` for an error message: credentials redacted, cut to ``limit``
    characters (a 32k-character garbage line is named, not pasted)."""
    text = redact(text)
    if len(text) > limit:
        return repr(text[:limit]) + f"... ({len(text)} characters)"
    return repr(text)


def strip_credentials(text: str) -> str:
    """Remove credentials from every URL of ``text`` (for what is stored, not shown): see
    :func:`strip_userinfo`."""
    return strip_userinfo(text)
