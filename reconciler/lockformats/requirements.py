"""The pip requirements lock format: ``lock/<name>.txt``, pip-compile output plus our header."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import lockfile
from reconciler.backends import lock_file
from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.lockformats.base import LockContent
    from reconciler.models import Lock, LockedPackage


class RequirementsFormat:
    """``pip-compile --generate-hashes`` output with a ``# reconciler-inputs`` header."""

    name = "requirements"

    def relative_path(self, lock_name: str) -> str:
        """``<lock_name>.txt``."""
        return lock_file("requirements", lock_name)

    def owns(self, path: Path) -> bool:
        """A file whose first line is reconciler's header."""
        from reconciler.support.files import read_regular  # noqa: PLC0415 - start-up: shutil and tempfile, only when a file is read

        try:  # never a FIFO, never blocking, never a link out of the lock directory
            head = read_regular(path, path.parent, limit=1 << 24)[:64].decode("utf-8-sig")
        except (OSError, UnicodeDecodeError, ReconcilerError):
            return False
        return head.startswith("# reconciler-inputs: ")

    def plugin_label(self, path: Path) -> str:
        """``tap-csv.txt`` -> ``tap-csv``."""
        return path.stem

    def parse(self, plugin: str, path: Path, text: str) -> Lock:
        """See :func:`reconciler.lockfile.parse`."""
        return lockfile.parse(plugin, path, text)

    def render(self, content: LockContent) -> str:
        """The resolver's output as it is (annotations kept)."""
        return content.requirements_text


def render_lock(lock: Lock) -> str:
    """A requirements-format lock holding exactly ``lock``'s values (``export``, and the
    previous pins handed to a resolver when the current lock is in another format)."""
    lines: list[str] = []
    if lock.inputs is not None:
        lines.append(lock.inputs.header())
    lines.append("#    (converted by `reconciler export --format requirements`)")
    lines.extend(_line(p) for p in lock.packages)
    return "\n".join(lines) + "\n"


def _line(package: LockedPackage) -> str:
    marker = f" ; {package.marker}" if package.marker else ""
    if package.kind == "path":
        head = f"-e {package.url}" if package.editable else f"{package.url}"
        return f"{head}  # reconciler: name={package.name}"
    if package.kind == "vcs":
        note = f"  # reconciler: ref={package.ref}" if package.ref else ""
        return f"{package.name} @ {package.url}{marker}{note}"
    head = f"{package.name} @ {package.url}" if package.kind == "url" else package.requirement
    hashes = "".join(f" \\\n    --hash={h}" for h in package.hashes)
    return f"{head}{marker}{hashes}"
