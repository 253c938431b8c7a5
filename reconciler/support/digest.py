"""SHA-256 without importing :mod:`hashlib` on the plan path.

``hashlib`` loads OpenSSL's ``_hashlib`` and ``_blake2`` on import (~5 ms of a ~100 ms plan);
CPython's own SHA-256 module gives the same digests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Hash(Protocol):
    """What reconciler uses of a hash object."""

    def update(self, data: bytes, /) -> None:
        """Add ``data``."""

    def hexdigest(self) -> str:
        """The digest so far, as hex."""


@functools.cache  # a failed ``import _sha2`` is not cached by Python: searched on every call
def _constructor() -> Callable[[bytes], Hash]:
    """CPython's own SHA-256 type (``_sha2`` on 3.12+, ``_sha256`` on 3.11), else hashlib's;
    looked up once (a plan of 20 plugins hashes ~100 times, ~0.1 ms per failed import)."""
    try:
        from _sha2 import sha256 as make  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - 3.12+
    except ImportError:
        try:
            from _sha256 import sha256 as make  # type: ignore[import-not-found,no-redef,unused-ignore]  # noqa: PLC0415 - 3.11
        except ImportError:
            from hashlib import sha256 as make  # type: ignore[assignment,no-redef,unused-ignore]  # noqa: PLC0415 - start-up: OpenSSL, only without the faster digest
    constructor: Callable[[bytes], Hash] = make
    return constructor


def sha256(data: bytes = b"") -> Hash:
    """A SHA-256 hash object fed ``data``."""
    return _constructor()(data)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``, read 1 MiB at a time."""
    digest = sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
