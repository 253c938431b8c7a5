"""SHA-256 without importing :mod:`hashlib` on the plan path.

``hashlib`` loads OpenSSL's ``_hashlib`` and ``_blake2`` on import (~5 ms of a ~100 ms plan);
CPython's own SHA-256 module gives the same digests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Hash(Protocol):
    """What reconciler uses of a hash object."""

    def update(self, data: bytes, /) -> None:
        """Add ``data``."""

    def hexdigest(self) -> str:
        """The digest so far, as hex."""


def sha256(data: bytes = b"") -> Hash:
    """A SHA-256 hash object fed ``data``."""
    try:
        from _sha2 import sha256 as make  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - 3.12+
    except ImportError:
        try:
            from _sha256 import sha256 as make  # type: ignore[import-not-found,no-redef,unused-ignore]  # noqa: PLC0415 - 3.11
        except ImportError:
            from hashlib import sha256 as make  # type: ignore[assignment,no-redef,unused-ignore]  # noqa: PLC0415 - start-up: OpenSSL, only without the faster digest
    hashed: Hash = make(data)
    return hashed


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``, read 1 MiB at a time."""
    digest = sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
