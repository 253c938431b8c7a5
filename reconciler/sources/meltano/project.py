"""A Meltano project read from disk: its plugin entries, settings and install environment."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.models import Settings
from reconciler.sources.meltano.env import install_env, project_python
from reconciler.sources.meltano.include import include_paths
from reconciler.sources.meltano.sibling import toml_settings
from reconciler.sources.meltano.yaml import PROJECT_FILE, Entry, plugin_entries, read_yaml
from reconciler.support.values import evolve, frozen


@frozen
class Project:
    """What the loader needs of a project: its entries, settings and install environment."""

    root: Path
    sys_dir: Path
    settings: Settings
    python_explicit: bool  # reconciler.toml sets settings.python
    entries: dict[tuple[str, str], Entry]
    env: dict[str, str]  # what Meltano expands pip_url with (before the per-plugin part)
    project_python: str | None


def read_project(project_file: Path) -> Project:
    """Read ``meltano.yml``, its includes, ``.env`` and the sibling ``reconciler.toml``."""
    root = project_file.parent.absolute()
    meltano = read_yaml(project_file, PROJECT_FILE)
    settings, python_explicit = toml_settings(root)
    entries: dict[tuple[str, str], Entry] = {}
    documents = [(meltano, PROJECT_FILE)]
    for path, rel in include_paths(root, meltano):
        if path != project_file.resolve():
            documents.append((read_yaml(path, rel), rel))
    for document, label in documents:
        for entry in plugin_entries(document, label):
            before = entries.get((entry.type, entry.name))
            if before is not None:
                raise entry.where().error(
                    f"duplicate plugin (also in {before.label}:{before.line or '?'})"
                )
            entries[(entry.type, entry.name)] = entry
    env = install_env(root, meltano)
    # As Meltano 4.4.1 (``Project.__init__``): from the process environment only (not
    # meltano.yml ``env:``, not ``.env``), a relative value resolved against the current
    # directory; else ``<project>/.meltano``.
    from_environ = os.environ.get("MELTANO_SYS_DIR_ROOT")
    sys_dir = Path(from_environ).resolve() if from_environ else root.resolve() / ".meltano"
    return Project(
        root=root,
        sys_dir=sys_dir,
        settings=evolve(settings, venv_root=sys_dir),
        python_explicit=python_explicit,
        entries=entries,
        env=env,
        project_python=project_python(meltano, env),
    )
