"""Hide credentials in index URLs before anything is printed or written."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")


def redact(text: str) -> str:
    """Replace ``user:secret@`` in every URL of ``text`` with ``****@``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}****@", text)
