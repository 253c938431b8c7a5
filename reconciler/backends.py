"""The one registry of backend names per kind: what ``--installer``/``--resolver`` accept (click's
choices), what ``settings.installer``/``settings.resolver`` may say (the config validator), and
what :func:`reconciler.installers.get_installer` / :func:`reconciler.locking.get_resolver` build.

Kept apart from the backends themselves so that reading a project file imports none of them.
"""

from __future__ import annotations

#: Installer backends; ``auto`` is uv when it is installed, else pip.
INSTALLERS = ("auto", "pip", "uv")
#: Resolver backends; ``auto`` is uv when it is installed, else pip-tools.
RESOLVERS = ("auto", "pip-tools", "uv")
