"""Assembling the desired state: one reconciler plugin per Meltano venv, with its fingerprint."""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

from reconciler import interpreters
from reconciler.errors import ConfigError
from reconciler.layouts.meltano import MeltanoLayout, MeltanoVenv, venv_id
from reconciler.models import DesiredState, IndexOptions, Plugin
from reconciler.sources.meltano.env import PYTHON_VERSION_VAR, MissingVariable, expand
from reconciler.sources.meltano.inherit import Resolved, Resolver
from reconciler.sources.meltano.project import Project, read_project
from reconciler.sources.meltano.yaml import Entry
from reconciler.sources.pipargs import read_pip_args
from reconciler.support.names import PLUGIN_NAME_RE
from reconciler.support.values import evolve

_SINGULAR = {
    "extractors": "extractor",
    "loaders": "loader",
    "orchestrators": "orchestrator",
    "transformers": "transformer",
    "files": "file",
    "utilities": "utility",
    "mappers": "mapper",
}


def fingerprint(args: list[str], python: str | None) -> str:
    """Meltano's ``venv_service.fingerprint``: what ``.meltano_plugin_fingerprint`` holds."""
    components = sorted(set(args))
    if python:
        components.append(f"python:{python}")
    return hashlib.sha256(" ".join(components).encode()).hexdigest()


def load(project_file: Path) -> DesiredState:
    """Read ``meltano.yml`` (and its includes, ``.env``, plugin lock files) into desired state."""
    return _desired(project_file, read_project(project_file))


def _desired(project_file: Path, project: Project) -> DesiredState:
    resolver = Resolver(project)
    resolved = [resolver.resolve(entry) for entry in project.entries.values()]
    meltano_py = interpreters.meltano_python(project.sys_dir, project.env)
    default_python = (
        project.settings.python
        if project.python_explicit or meltano_py is None
        else str(meltano_py)
    )
    cache: list[str] = []

    def python_version() -> str:
        """Meltano's ``MELTANO__PYTHON_VERSION``: the ``X.Y`` of the interpreter it runs on."""
        if not cache:
            found = None
            if meltano_py is not None:
                found = interpreters.venv_major_minor(meltano_py, project.root)
            if found is None:
                found = interpreters.resolve(default_python, project.root).major_minor
            cache.append(found)
        return cache[0]

    notes: list[str] = []
    venvs: dict[tuple[str, str], list[Resolved]] = {}
    for item in resolved:
        if item.pip_url is None:
            notes.append(
                f"{item.entry.where('name').label}: plugin {item.entry.name!r} "
                f"({item.entry.type}) skipped: no pip_url in meltano.yml, its plugin lock "
                "file or its parent"
            )
            continue
        if _hub_unlocked(item.entry, project.root):
            notes.append(
                f"{item.entry.where('name').label}: plugin {item.entry.name!r} "
                f"({item.entry.type}) comes from Meltano Hub and has no lock file under "
                f"plugins/{item.entry.type}/: `meltano invoke` will need the Hub to read its "
                "definition; run `meltano lock`"
            )
        venvs.setdefault((item.entry.type, item.dir_name), []).append(item)
    taken: dict[str, int] = {}
    for _, dir_name in venvs:
        taken[dir_name] = taken.get(dir_name, 0) + 1
    plugins: list[Plugin] = []
    declared: dict[str, MeltanoVenv] = {}
    aliases: dict[str, set[str]] = {}
    for (plugin_type, dir_name), members in sorted(venvs.items()):
        owner = next((m for m in members if m.entry.name == dir_name), members[0])
        if not PLUGIN_NAME_RE.fullmatch(dir_name):
            raise owner.entry.where("name").error(
                "not a name reconciler can manage (letters, digits, '.', '_', '-'; "
                "at most 64, starting with a letter or digit)"
            )
        pid = venv_id(plugin_type, dir_name, taken)
        plugin, print_ = _plugin(pid, owner, project, default_python, python_version)
        plugins.append(plugin)
        declared[pid] = MeltanoVenv(plugin_type, dir_name, print_)
        for member in members:
            aliases.setdefault(member.entry.name, set()).add(pid)
            aliases.setdefault(f"{plugin_type}/{member.entry.name}", set()).add(pid)
        # Meltano's positional type (`meltano install loaders`, `--plugin-type loader`)
        aliases.setdefault(plugin_type, set()).add(pid)
        aliases.setdefault(plugin_type.removesuffix("s"), set()).add(pid)
    return DesiredState(
        project_file=project_file,
        settings=evolve(project.settings, python=default_python),
        plugins=tuple(sorted(plugins, key=lambda p: p.name)),
        layout=MeltanoLayout(project.sys_dir, declared),
        aliases=tuple(sorted((a, tuple(sorted(ids))) for a, ids in aliases.items())),
        notes=tuple(notes),
    )


def _plugin(
    pid: str,
    item: Resolved,
    project: Project,
    default_python: str,
    python_version: Callable[[], str],
) -> tuple[Plugin, str]:
    """The reconciler plugin of one Meltano venv and its Meltano fingerprint."""
    entry = item.entry
    assert item.pip_url is not None  # noqa: S101 - plugins without one are skipped
    where = item.pip_url_where or entry.where("pip_url")
    python = item.python or project.project_python
    env = _plugin_env(entry, project, python_version, item.pip_url)
    try:
        expanded = expand(item.pip_url, env)
    except MissingVariable as exc:
        raise where.error(
            f"environment variable {exc.name!r} is not set "
            "(Meltano would silently use an empty string)",
            plugin=entry.name,
        ) from exc
    try:
        tokens = shlex.split(expanded)
    except ValueError as exc:
        raise where.error(f"cannot split pip_url: {exc}", plugin=entry.name) from exc

    def fail(message: str) -> ConfigError:
        return where.error(f"{message}", plugin=entry.name)

    args = read_pip_args(tokens, project.root, fail)
    if not args.requirements:
        raise fail("pip_url names no requirement")
    index = None
    if args.index_url or args.extra_index_urls or args.find_links or args.no_index:
        default = project.settings.index
        index = IndexOptions(
            index_url=args.index_url if args.index_url is not None else default.index_url,
            extra_index_urls=args.extra_index_urls or default.extra_index_urls,
            find_links=args.find_links or default.find_links,
            no_index=args.no_index or default.no_index,
        )
    plugin = Plugin(
        name=pid,
        requirements=args.requirements,
        python=python or default_python,
        index=index,
        constraints=args.constraints,
        pre=args.pre,
        universal=project.settings.universal,
        lock_name=f"{entry.type}/{item.dir_name}",
        lock_format=project.settings.lock_format,
    )
    return plugin, fingerprint(tokens, python)


def _plugin_env(
    entry: Entry, project: Project, python_version: Callable[[], str], pip_url: str
) -> dict[str, str]:
    """Meltano's ``plugin_installation_env`` for ``entry`` (lowest first).

    ``MELTANO__PYTHON_VERSION`` (Meltano: its own interpreter's ``X.Y``) is looked up only when
    ``pip_url`` mentions it and nothing else sets it.
    """
    env: dict[str, str] = {}
    if PYTHON_VERSION_VAR not in project.env and PYTHON_VERSION_VAR in pip_url:
        env[PYTHON_VERSION_VAR] = python_version()
    env.update(project.env)
    singular = _SINGULAR[entry.type].upper()
    env[f"MELTANO_{singular}_NAME"] = entry.name
    env[f"MELTANO_{singular}_NAMESPACE"] = entry.text("namespace") or entry.name.replace("-", "_")
    variant = entry.text("variant")
    if variant:
        env[f"MELTANO_{singular}_VARIANT"] = variant
    own = entry.data.get("env") or {}
    if isinstance(own, Mapping):
        for key, value in own.items():
            env[str(key)] = expand(str(value), project.env, strict=False)
    return env


def _hub_unlocked(entry: Entry, root: Path) -> bool:
    """A Hub plugin (no ``namespace`` of its own, no ``inherit_from``) with no plugin lock file
    (``plugins/<type>/<name>--<variant>.lock``, as ``meltano lock`` writes it)."""
    if entry.text("namespace") or entry.text("inherit_from"):
        return False
    directory = root / "plugins" / entry.type
    variant = entry.text("variant")
    if variant:
        return not (directory / f"{entry.name}--{variant}.lock").is_file()
    try:
        names = os.listdir(directory)
    except OSError:
        return True
    prefix = f"{entry.name}--"
    return not any(n == f"{entry.name}.lock" or (n.startswith(prefix) and n.endswith(".lock"))
                   for n in names)  # fmt: skip
