"""The one registry of backend names per kind: what ``--installer``/``--resolver`` accept (click's
choices), what ``settings.installer``/``settings.resolver`` may say (the config validator), and
what :func:`reconciler.installers.get_installer` / :func:`reconciler.locking.get_resolver` build;
likewise the lock formats (:mod:`reconciler.lockformats`) and their file names.

Kept apart from the backends themselves so that reading a project file imports none of them.
"""

from __future__ import annotations

#: Installer backends; ``auto`` is uv when it is installed, else pip.
INSTALLERS = ("auto", "pip", "uv")
#: Resolver backends; ``auto`` is uv when it is installed, else pip-tools.
RESOLVERS = ("auto", "pip-tools", "uv")
#: Lock formats, in the order they are documented (``requirements`` is the default).
LOCK_FORMATS = ("requirements", "pylock")


def lock_file(lock_format: str, lock_name: str) -> str:
    """A lock's path under the lock dir: ``<lock_name>.txt``, or PEP 751's
    ``pylock.<name>.toml`` (no dot in the name part; a Meltano ``<type>/`` directory kept)."""
    if lock_format == "pylock":
        head, _, last = lock_name.rpartition("/")
        name = f"pylock.{last.replace('.', '-')}.toml"
        return f"{head}/{name}" if head else name
    return f"{lock_name}.txt"
