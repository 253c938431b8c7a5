"""The ``reconciler.toml`` beside ``meltano.yml``: ``[settings]`` only."""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit

from reconciler.errors import ConfigError
from reconciler.models import Settings
from reconciler.sources import toml
from reconciler.sources.meltano.yaml import PROJECT_FILE
from reconciler.support.files import read_text_in


def toml_settings(root: Path) -> tuple[Settings, bool]:
    """``[settings]`` of a ``reconciler.toml`` beside ``meltano.yml`` (which must declare no
    plugins); defaults when there is none. Also whether it sets ``python``."""
    path = root / toml.PROJECT_FILE
    if not os.path.lexists(path):
        return toml.parse("", path).settings, False
    state = toml.load(path)
    text = read_text_in(path, root, bom=True)
    document = tomlkit.parse(text)
    table = document.get("settings") or {}

    def refuse(keys: list[str], message: str) -> ConfigError:
        line = toml.locate(text, keys)
        return ConfigError(message, file=toml.PROJECT_FILE, line=line, key=".".join(keys[:2]))

    if state.plugins or "plugins" in document:
        first = [p.name for p in state.plugins][:1]
        raise refuse(
            ["plugins", *first],
            f"not allowed beside {PROJECT_FILE} (the plugins come from {PROJECT_FILE}; "
            "keep only [settings] here)",
        )
    if "venv-root" in table:
        raise refuse(
            ["settings", "venv-root"],
            f"not allowed beside {PROJECT_FILE} (venvs live where Meltano looks for them: "
            ".meltano, or $MELTANO_SYS_DIR_ROOT)",
        )
    return state.settings, "python" in table
