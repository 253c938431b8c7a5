"""Distribution names and versions in canonical form, fast for the common case.

``packaging.utils`` pulls in ``packaging.tags`` (logging, subprocess, sysconfig) just to offer
``canonicalize_name``; a plan reads a name and a version for every ``*.dist-info`` of every venv
and every line of every lock, so both are done here (a name with string methods, a version with
one regex), and ``packaging`` is asked only for versions that are not plain release numbers.
"""

from __future__ import annotations

import re

#: What a plugin name may be: it becomes a directory and a file name (no separators, no dots first).
PLUGIN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # \Z: "x\n" is no name
#: What pip installs as an archive (a wheel or an sdist), by the end of its name.
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")
#: A distribution name as written (PEP 508: letters and digits at both ends).
NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
#: A version that is its own normal form: release numbers without leading zeros.
PLAIN_VERSION_PATTERN = r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*"
PLAIN_VERSION = re.compile(PLAIN_VERSION_PATTERN)


def canonical_name(name: str) -> str:
    """The PEP 503 normalised form of a distribution name (as ``canonicalize_name`` gives)."""
    lowered = name.lower()  # separators are not letters: lowering first changes no run of them
    # no regex (read for every pin and every dist, whose names mostly hold ``_``): every
    # separator becomes ``-``, then each run of ``-`` one
    if "_" in lowered or "." in lowered:
        lowered = lowered.replace("_", "-").replace(".", "-")
    while "--" in lowered:
        lowered = lowered.replace("--", "-")
    return lowered


def normal_version(text: str) -> str:
    """The PEP 440 normal form of ``text``; raises ``InvalidVersion`` (a ValueError)."""
    if PLAIN_VERSION.fullmatch(text):
        return text
    from packaging.version import Version  # noqa: PLC0415 - only for unusual versions

    return str(Version(text))


def _release(text: str) -> tuple[int, ...] | None:
    """A plain version's release numbers as PEP 440 compares them (trailing zeros dropped:
    ``1.0`` is ``1.0.0``); None for any other version."""
    if not PLAIN_VERSION.fullmatch(text):
        return None
    parts = [int(part) for part in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def same_version(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are the same PEP 440 version (``1.0`` is ``1.0.0``)."""
    if a == b:
        return True
    plain_a, plain_b = _release(a), _release(b)
    if plain_a is not None and plain_b is not None:  # an upgraded pin: no packaging
        return plain_a == plain_b
    from packaging.version import Version  # noqa: PLC0415 - only for unusual versions

    return Version(a) == Version(b)


def older_version(a: str, b: str) -> bool:
    """True when version ``a`` is older than ``b`` (PEP 440); False when either is none."""
    plain_a, plain_b = _release(a), _release(b)
    if plain_a is not None and plain_b is not None:
        return plain_a < plain_b
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415 - only for unusual versions

    try:
        return Version(a) < Version(b)
    except InvalidVersion:
        return False


def archive_name_version(filename: str) -> tuple[str, str] | None:
    """``(name as written, version)`` that a wheel's or sdist's file name gives, else None."""
    from packaging.utils import (  # noqa: PLC0415 - start-up: packaging stays off the plan path
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), str(version)


#: Words for parsed values, most specific first (bool before int: True is an int).
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (dict, "a mapping"),
    ((list, tuple), "a list"),
)


def kind_of(value: object) -> str:
    """What a parsed value is, in the words of the file it came from (never an internal class
    name such as ruamel's ``CommentedSeq`` or tomlkit's ``Array``)."""
    if value is None:
        return "null"
    for types, words in _KINDS:
        if isinstance(value, types):
            return words
    return "a mapping" if hasattr(value, "keys") else "a value of another kind"
