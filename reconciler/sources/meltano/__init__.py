"""``meltano.yml`` as the desired state: every pip-installed Meltano plugin is a plugin.

Read the way Meltano 4.x reads it (``project_files.py``, ``project_plugin.py``,
``plugin_install_service.py``, ``venv_service.py``):

- plugins of every pip-installed type (:data:`~reconciler.layouts.meltano.PIP_TYPES`; not
  ``transforms`` nor ``mappings``) from ``meltano.yml`` and its ``include_paths`` globs;
- ``pip_url`` from the plugin, else its parent: the project plugin it ``inherit_from``-s
  (without ``variant:``), else its lock file ``plugins/<type>/<name>--<variant>.lock``;
  ``python`` likewise, then the project's ``python``;
- the venv is ``<sys-dir>/<type>/<plugin_dir_name>/venv``: a child with no ``pip_url`` of its
  own (or the parent's) shares its parent's venv;
- ``pip_url`` is expanded with Meltano's pattern (``$VAR``, ``${VAR}``, ``\\$`` escapes) from
  the environment Meltano installs with, then ``shlex``-split; the fingerprint Meltano checks is
  ``sha256(" ".join(sorted(set(args)) + ["python:" + python]))`` (the python part only when a
  python is set), written into the venv as ``.meltano_plugin_fingerprint``.

Unlike Meltano, a variable that is not set is an error (Meltano silently uses ``""``).
The package is split by concern: :mod:`.env` (``$VAR`` expansion, ``.env``, ``env:``),
:mod:`.yaml` (YAML with line numbers, plugin entries), :mod:`.include` (``include_paths``),
:mod:`.sibling` (the ``reconciler.toml`` beside ``meltano.yml``), :mod:`.project` (reading all of
them), :mod:`.inherit` (``inherit_from`` and plugin lock files) and :mod:`.desired` (assembling
the :class:`~reconciler.models.DesiredState`). pip arguments are read by
:mod:`reconciler.sources.pipargs`; Meltano's interpreter is found by
:mod:`reconciler.interpreters`.
"""

from __future__ import annotations

from reconciler.sources.meltano.desired import fingerprint, load
from reconciler.sources.meltano.env import MissingVariable, expand
from reconciler.sources.meltano.yaml import PROJECT_FILE

__all__ = ["PROJECT_FILE", "MissingVariable", "expand", "fingerprint", "load"]
