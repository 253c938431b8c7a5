"""Frozen value classes that cross stage boundaries: load -> observe -> plan -> render | execute."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.backends import lock_file
from reconciler.layouts.venvs import VenvsLayout
from reconciler.support.names import older_version
from reconciler.support.values import evolve, field, frozen

if TYPE_CHECKING:
    from reconciler.layouts import Layout

#: Distributions that every venv may carry without being locked (ignored unless locked).
BOOTSTRAP_DISTS = frozenset({"pip", "setuptools", "wheel"})


@frozen
class IndexOptions:
    """Where artifacts come from; ``find_links`` are kept as written (relative to the project)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False


@frozen
class Settings:
    """The ``[settings]`` table, paths resolved against the project directory."""

    venv_root: Path
    lock_dir: Path
    python: str = "python3"
    index: IndexOptions = IndexOptions()
    installer: str = "auto"
    keep_generations: int = 0
    resolver: str = "auto"
    universal: bool = False
    #: True: an unhashable requirement (VCS, local path) is an error (production setting).
    require_hashes: bool = False
    #: The default lock format (a name in :data:`reconciler.lockformats.FORMATS`).
    lock_format: str = "requirements"


@frozen
class Plugin:
    """One declared plugin: its requirements and the interpreter spec it wants.

    ``index`` is the plugin's own index settings (``None``: the project's ``[settings]``);
    ``constraints`` are constraint files/URLs as written (relative to the project), ``pre`` allows
    pre-releases, ``universal`` asks for a lock valid on every platform (uv's universal
    resolution, environment markers kept). A source (reconciler.toml, meltano.yml) fills these;
    nothing downstream cares which source it was. ``lock_name`` is the lock's path under the
    lock dir without ``.txt`` (default: the name; Meltano groups locks by plugin type:
    ``extractors/tap-csv``).
    """

    name: str
    requirements: tuple[str, ...]
    python: str
    index: IndexOptions | None = None
    constraints: tuple[str, ...] = ()
    pre: bool = False
    universal: bool = False
    lock_name: str | None = None
    #: ``requirements`` (``lock/<name>.txt``) or ``pylock`` (PEP 751 ``lock/pylock.<name>.toml``).
    lock_format: str = "requirements"


def _default_layout(state: DesiredState) -> Layout:
    return VenvsLayout(state.settings.venv_root)


@frozen
class DesiredState:
    """Everything the project file (``reconciler.toml``, ``meltano.yml``) declares.

    ``layout`` says where each plugin's venv lives; a source picks it (default: ``.venvs``
    under ``settings.venv_root``). ``aliases`` are other names the command line accepts, each
    with the plugins it stands for (Meltano: an ``inherit_from`` child sharing its parent's
    venv, ``<type>/<name>``); ``notes`` are things the source skipped, said once per command.
    """

    project_file: Path
    settings: Settings
    plugins: tuple[Plugin, ...]
    layout: Layout = field(factory=_default_layout, takes_self=True, eq=False, repr=False)
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def project_dir(self) -> Path:
        """The directory holding the project file; relative settings resolve against it."""
        return self.project_file.parent

    def index_for(self, plugin: Plugin) -> IndexOptions:
        """The index settings ``plugin`` locks and installs with (its own, else the project's)."""
        return plugin.index if plugin.index is not None else self.settings.index

    def with_index_override(self, index: IndexOptions) -> DesiredState:
        """This state with every plugin's index replaced by ``index`` (deploy-time override)."""
        plugins = tuple(evolve(p, index=None) for p in self.plugins)
        settings = evolve(self.settings, index=index)
        return evolve(self, settings=settings, plugins=plugins, layout=self.layout)

    def plugin(self, name: str) -> Plugin | None:
        """The declared plugin called ``name``, or None."""
        return next((p for p in self.plugins if p.name == name), None)

    def lock_path(self, name: str, lock_format: str | None = None) -> Path:
        """Where the lock of plugin ``name`` lives (in its own format, or ``lock_format``)."""
        return self.plugin_lock_path(name, self.plugin(name), lock_format)

    def plugin_lock_path(
        self, name: str, plugin: Plugin | None, lock_format: str | None = None
    ) -> Path:
        """:meth:`lock_path` for plugin ``name`` already looked up (``plugin``: what
        :meth:`plugin` returns for ``name``), without another scan of every plugin."""
        lock_name = plugin.lock_name if plugin is not None and plugin.lock_name else name
        chosen = lock_format or (plugin.lock_format if plugin is not None else "requirements")
        return self.settings.lock_dir / lock_file(chosen, lock_name)

    def resolve_names(self, names: Iterable[str]) -> tuple[str, ...]:
        """The plugin names that command-line ``names`` stand for (declared names and aliases
        as they are; an unknown name is kept, for the caller to report)."""
        declared = {p.name for p in self.plugins}
        aliases = dict(self.aliases)
        resolved: list[str] = []
        for name in names:
            found = (name,) if name in declared else aliases.get(name, (name,))
            resolved.extend(n for n in found if n not in resolved)
        return tuple(resolved)

    def venv_path(self, name: str) -> Path:
        """The stable path of plugin ``name``'s venv (where the layout puts it)."""
        return self.layout.stable_path(name)


@frozen
class Interpreter:
    """A probed base interpreter: the real executable, its version and marker environment."""

    executable: str
    version: str
    markers: tuple[tuple[str, str], ...] = ()

    @property
    def major_minor(self) -> str:
        """``"3.11"`` for ``"3.11.7"``."""
        return ".".join(self.version.split(".")[:2])

    @property
    def release(self) -> str:
        """The numeric ``X.Y.Z`` of the version (``"3.13.0"`` for ``"3.13.0rc1"``); a lock is
        resolved for it and records it as its floor. ``""`` when the version has no patch."""
        parts = self.version.split(".")[:3]
        if len(parts) < 3:
            return ""
        patch = parts[2]
        for index, char in enumerate(patch):
            if not char.isdigit():
                patch = patch[:index]
                break
        if not (parts[0].isdigit() and parts[1].isdigit() and patch):
            return ""
        return f"{parts[0]}.{parts[1]}.{patch}"


@frozen
class Prebuilt:
    """A wheel ``reconciler fetch`` built from a locked VCS commit or local project: a plan
    installs it (hash-checked) instead of cloning or building the source, then records the
    source in ``direct_url.json`` as installing from it would have."""

    url: str  # the wheel's ``file:`` URL
    sha256: str  # hex digest the manifest records; the installer checks it

    @property
    def filename(self) -> str:
        """The wheel's file name."""
        return self.url.rsplit("/", 1)[-1]


@frozen
class LockedPackage:
    """One pinned line of a lock file."""

    name: str  # canonical (PEP 503) name
    version: str  # "" when the lock does not say (VCS, local paths)
    requirement: str  # the requirement as written in the lock, e.g. ``Demo_Common==1.0.0``
    hashes: tuple[str, ...] = ()
    marker: str | None = None
    #: ``index`` (name==version), ``url`` (archive URL), ``vcs`` (URL pinned to a commit) or
    #: ``path`` (a local project, relative to the project directory).
    kind: str = "index"
    url: str | None = None  # the direct URL (``url``/``vcs``) or the path as locked (``path``)
    editable: bool = False
    commit: str | None = None  # the VCS commit id the lock pins
    ref: str | None = None  # the VCS ref (tag, branch) the commit was taken from
    #: A local project's ``file:`` URL, resolved against the project when the lock is read
    #: (:func:`reconciler.lockformats.read`), so that planning needs no disk access.
    location: str | None = None
    #: Set in a plan only (never in a lock): the wheelhouse wheel built from this source.
    prebuilt: Prebuilt | None = None

    @classmethod
    def local(
        cls,
        name: str,
        url: str,
        *,
        marker: str | None,
        editable: bool = False,
        as_written: str = "",
    ) -> LockedPackage:
        """A local project at ``url`` (a path or ``file:`` URL): no version, no hash."""
        return cls(
            name=name,
            version="",
            requirement=as_written or url,
            marker=marker,
            kind="path",
            url=url,
            editable=editable,
        )

    @classmethod
    def pin(
        cls, name: str, version: str, hashes: tuple[str, ...], *, marker: str | None, url: str = ""
    ) -> LockedPackage:
        """``name==version`` from an index, or (with ``url``) a hashed archive URL."""
        requirement = f"{name} @ {url}" if url else f"{name}=={version}"
        kind = "url" if url else "index"
        return cls(name, version, requirement, hashes, marker, kind, url or None)

    @property
    def hashable(self) -> bool:
        """True when this line can be installed with ``--require-hashes``."""
        return self.kind in ("index", "url")

    @property
    def hash_checked(self) -> bool:
        """True when installing this line checks a hash (an index pin, an archive URL, or a
        source replaced by its prebuilt wheel)."""
        return self.hashable or self.prebuilt is not None

    @property
    def install_hashes(self) -> tuple[str, ...]:
        """The hashes the installer checks: the lock's, or the prebuilt wheel's."""
        if self.prebuilt is not None:
            return (f"sha256:{self.prebuilt.sha256}",)
        return self.hashes

    @property
    def label(self) -> str:
        """What to show for this package: its version, short commit, or path."""
        if self.kind == "vcs" and self.commit:
            return f"@{self.commit[:12]}"
        if self.kind == "path":
            return f"{'-e ' if self.editable else ''}{self.url}"
        return self.version or (self.url or "")

    def source_url(self, project_dir: Path) -> str | None:
        """The URL pip records in ``direct_url.json`` for this package (None for index pins)."""
        if self.kind == "path":
            assert self.url is not None  # noqa: S101 - path lines always carry one
            if self.location is not None:
                return self.location
            if self.url.startswith("file:"):
                return self.url
            # not read by lockformats.read(..., project_dir), which resolves symlinks: no disk
            return (project_dir / self.url).absolute().as_uri()
        if self.kind == "vcs" and self.url is not None:
            return self.url.split("+", 1)[1].rsplit("@", 1)[0]
        return self.url

    def install_line(self, project_dir: Path | None = None) -> str:
        """The line to hand to an installer: requirement, marker and every hash.

        Local paths are made absolute against ``project_dir`` (the installer's working directory
        is not the project's). A source with a prebuilt wheel is that wheel, with its hash.
        """
        if self.prebuilt is not None:
            text = f"{self.name} @ {self.prebuilt.url}"
            text = text if self.marker is None else f"{text} ; {self.marker}"
            return f"{text} --hash=sha256:{self.prebuilt.sha256}"
        if self.kind == "path" and project_dir is not None:
            url = self.source_url(project_dir)
            text = f"{self.name} @ {url}"
            if self.editable:
                return f"-e {url}"
            return text if self.marker is None else f"{text} ; {self.marker}"
        text = self.requirement if self.marker is None else f"{self.requirement} ; {self.marker}"
        return " ".join([text, *(f"--hash={h}" for h in self.hashes)])


@frozen
class InputsDigest:
    """The digest of what a lock is made from, with short digests of its parts (for staleness)."""

    digest: str
    requirements: str = ""
    python: str = ""
    index: str = ""
    #: The interpreter version (``X.Y.Z``) the lock was resolved for: fresh on that X.Y at or
    #: above it, stale below it. Not part of ``digest`` (a lock is shared by every patch level
    #: at or above its floor); ``""`` for a lock written before floors were recorded (X.Y.0).
    floor: str = ""
    #: ``requirements`` as it would be with ``universal`` flipped (not written; tells a lock
    #: whose only change is ``universal`` from one whose requirements changed).
    universal_flipped: str = field(default="", eq=False)

    def header(self) -> str:
        """The header comment line written at the top of a lock."""
        floor = f" python-floor={self.floor}" if self.floor else ""
        return (
            f"# reconciler-inputs: sha256:{self.digest} requirements={self.requirements} "
            f"python={self.python} index={self.index}{floor}"
        )


@frozen
class Lock:
    """A parsed lock (``lock/<plugin>.txt`` or ``lock/pylock.<name>.toml``): the same values
    whatever its format."""

    plugin: str
    path: Path
    inputs: InputsDigest | None
    packages: tuple[LockedPackage, ...]
    content_digest: str
    format: str = "requirements"


@frozen
class InstalledDist:
    """One ``*.dist-info`` directory found in a venv's site-packages."""

    name: str  # canonical
    version: str
    direct: DirectUrl | None = None  # from PEP 610 ``direct_url.json``, when pip wrote one


@frozen
class DirectUrl:
    """What PEP 610 ``direct_url.json`` says about where a distribution was installed from."""

    url: str
    commit: str | None = None  # vcs_info.commit_id
    editable: bool = False  # dir_info.editable
    is_dir: bool = False  # dir_info present (a local project directory)


@frozen
class StateMarker:
    """``reconciler-state.json``: written by reconciler into every venv it makes, last."""

    plugin: str
    status: MarkerStatus
    python_executable: str
    python_version: str
    installer: str
    #: The real path the venv was built at (venvs are not relocatable: scripts name it). A venv
    #: found elsewhere (project moved or copied) is rebuilt. None in markers of older versions.
    built_at: str | None = None
    format_version: int = 1
    #: Fingerprint of each non-editable local project's source tree when it was installed
    #: (``(name, fingerprint)`` pairs): a changed tree means the package is rebuilt.
    sources: tuple[tuple[str, str], ...] = ()


@frozen
class FileDrift:
    """An installed file that differs from its distribution's ``RECORD`` (``--verify``)."""

    dist: str  # canonical name of the distribution the file belongs to
    path: str  # relative to site-packages (or to the venv, e.g. ``bin/tap-csv``), ``/``-separated
    problem: str  # ``modified``, ``missing`` or ``unexpected``


@frozen
class ObservedVenv:
    """What is on disk at ``<venv-root>/<name>``, read without starting any process."""

    name: str
    path: Path
    has_marker_file: bool
    marker: StateMarker | None
    problems: tuple[str, ...]  # why the venv cannot be trusted (empty when healthy)
    dists: tuple[InstalledDist, ...]
    stale_files: tuple[str, ...] = ()  # the layout's extra files that are missing or differ
    location: str | None = None  # the real path of the venv directory (symlinks resolved)
    #: With ``--verify``: installed files that differ from their RECORD (empty without it).
    files: tuple[FileDrift, ...] = ()
    blocked: str | None = None  # why apply would refuse to replace it (a foreign link or file)

    @property
    def managed(self) -> bool:
        """True when reconciler made this directory (a state marker file is present)."""
        return self.has_marker_file


@frozen
class Observation:
    """Every entry of the venv root."""

    root: Path
    venvs: tuple[ObservedVenv, ...]

    def get(self, name: str) -> ObservedVenv | None:
        """The observed entry called ``name``, or None."""
        return next((v for v in self.venvs if v.name == name), None)


class MarkerStatus(enum.StrEnum):
    """What the state marker of a venv says about it."""

    COMPLETE = "complete"
    BUILDING = "building"
    UPGRADING = "upgrading"


class Strategy(enum.StrEnum):
    """How a step changes a venv (decided by the planner)."""

    NEW_GENERATION = "new-generation"  # build beside the live venv, verify, flip
    IN_PLACE = "in-place"  # change only the differing packages of the live venv


class Action(enum.StrEnum):
    """What a plan step does."""

    CREATE = "create"
    UPGRADE = "upgrade"
    REINSTALL = "reinstall"
    REMOVE = "remove"
    NOOP = "no-op"
    #: apply will refuse this venv's path (a foreign link, file, FIFO or unmarked directory
    #: there, or a link out of the root): the plan says so, apply does the others and exits 1.
    BLOCKED = "blocked"


@frozen
class Install:
    """A locked package to install, with the version it replaces (``None`` if absent)."""

    package: LockedPackage
    from_version: str | None = None
    reason: str | None = None  # why a direct source (VCS, URL, path) is reinstalled
    #: True: the installed files differ from RECORD (``--verify``); reinstalled as it is, from
    #: the artifact itself (not a local cache a hard-linked edit may have changed too).
    repair: bool = False

    @property
    def is_downgrade(self) -> bool:
        """True when this install replaces a newer installed version."""
        if self.from_version is None:
            return False
        return older_version(self.package.version, self.from_version)


@frozen
class Uninstall:
    """An installed distribution to remove."""

    name: str
    version: str


@frozen
class Step:
    """The planned action for one plugin."""

    plugin: str
    action: Action
    reasons: tuple[str, ...] = ()
    install: tuple[Install, ...] = ()
    uninstall: tuple[Uninstall, ...] = ()
    interpreter: Interpreter | None = None
    #: Every locked package that applies (what a new generation of the venv gets); an upgrade
    #: done as a new generation (``keep-generations >= 1``) installs these, not just ``install``.
    locked: tuple[LockedPackage, ...] = ()
    #: Where the packages come from (None for remove and no-op steps).
    index: IndexOptions | None = None
    #: New generation or in place (None for remove and no-op steps).
    strategy: Strategy | None = None
    #: The layout's extra files (name, text) written into the venv before it goes live.
    extra_files: tuple[tuple[str, str], ...] = ()
    #: Fingerprints (name, fingerprint) of the non-editable local projects this step installs,
    #: taken when planning; the state marker records them.
    sources: tuple[tuple[str, str], ...] = ()
    #: Why this plugin cannot be planned (a missing or stale lock); None when it can.
    blocked: str | None = None
    #: Files no RECORD lists (``--verify``), relative to site-packages; an upgrade deletes them.
    delete_files: tuple[str, ...] = ()


@frozen
class Plan:
    """The whole plan: one step per declared plugin and per managed venv, sorted by name."""

    steps: tuple[Step, ...]
    warnings: tuple[str, ...]
    fingerprint: str
    #: Previous generations to keep after a change (``settings.keep-generations``).
    keep_generations: int = 0
    #: What the locks' relative paths and find-links are relative to.
    project_dir: Path = Path()
    #: The plugins this plan was made for (``plan tap-x``); empty: every plugin. A saved plan
    #: is checked and applied for exactly these.
    targets: tuple[str, ...] = ()
    #: Made with ``--verify`` (installed files checked against their RECORD).
    verify: bool = False

    @property
    def changes(self) -> tuple[Step, ...]:
        """The steps that do something."""
        return tuple(
            s
            for s in self.steps
            if s.action not in (Action.NOOP, Action.BLOCKED) and s.blocked is None
        )

    @property
    def refused(self) -> tuple[Step, ...]:
        """The steps apply will refuse (:attr:`Action.BLOCKED`: something reconciler did not
        make is at the venv path); its reason is the step's only reason. Exit 1 under
        ``plan --detailed-exitcode``; apply does the other steps, then fails naming these."""
        return tuple(s for s in self.steps if s.action is Action.BLOCKED)

    @property
    def blocked(self) -> tuple[Step, ...]:
        """The steps of plugins that cannot be planned (see :attr:`Step.blocked`)."""
        return tuple(s for s in self.steps if s.blocked is not None)

    def with_index(self, index: IndexOptions) -> Plan:
        """This plan installing from ``index`` (a deploy-time override of every plugin's)."""
        steps = tuple(s if s.index is None else evolve(s, index=index) for s in self.steps)
        return evolve(self, steps=steps)

    def count(self, action: Action) -> int:
        """How many steps have ``action``."""
        return sum(1 for s in self.steps if s.action is action)
