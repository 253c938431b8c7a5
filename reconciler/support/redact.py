"""Hide credentials in index URLs before anything is printed or written."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")


def redact(text: str) -> str:
    """Replace ``user:secret@`` in every URL of ``text`` with ``****@``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}****@", text)


_LEADING_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def strip_credentials(text: str) -> str:
    """Remove ``user:secret@`` from every URL of ``text`` (for what is stored, not shown)."""
    return _LEADING_USERINFO.sub(r"\g<scheme>", text)
