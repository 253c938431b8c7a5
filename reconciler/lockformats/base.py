"""What every lock format deals in: the content written, the artifacts, the protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.support.values import field, frozen

if TYPE_CHECKING:
    from reconciler.models import IndexOptions, InputsDigest, Lock, LockedPackage
    from reconciler.models import Plugin as PluginT


@frozen
class ArtifactFile:
    """One file a locked pin can be installed from (a wheel or an sdist).

    ``url`` is an ``http(s)`` location (credentials stripped), ``path`` a local file (absolute;
    the pylock writer makes it relative to the lock file's directory).
    """

    filename: str
    sha256: str
    size: int | None = None
    url: str | None = None
    path: Path | None = None


#: Finds the files behind a locked pin (every hash it carries); raises LockError when one is not
#: found. Only the pylock format calls it (a requirements lock carries hashes only).
ArtifactFinder = Callable[["LockedPackage"], Sequence[ArtifactFile]]


@frozen
class LockContent:
    """One resolved lock, ready to be written in any format.

    ``requirements_text`` is the lock in the requirements format (header included) and
    ``lock`` its parsed values; ``path`` is where the file being written goes.
    """

    plugin: PluginT
    inputs: InputsDigest
    requirements_text: str
    lock: Lock
    path: Path
    project_dir: Path
    index: IndexOptions
    find_artifacts: ArtifactFinder = field(eq=False, repr=False)


class LockFormat(Protocol):
    """Reads and writes one lock file format."""

    name: str

    def relative_path(self, lock_name: str) -> str:
        """The lock's path under the lock dir for ``lock_name`` (``extractors/tap-csv``)."""

    def owns(self, path: Path) -> bool:
        """True when ``path`` is a lock reconciler wrote in this format (orphan detection)."""

    def plugin_label(self, path: Path) -> str:
        """The plugin name a lock file of this format stands for, from its file name."""

    def parse(self, plugin: str, path: Path, text: str) -> Lock:
        """Parse and validate ``text``; raises LockError naming the file."""

    def render(self, content: LockContent) -> str:
        """The file's text for ``content`` (validated before it is returned)."""
