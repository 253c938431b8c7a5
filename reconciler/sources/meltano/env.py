"""The environment Meltano installs with: its ``$VAR`` expansion, ``.env`` and ``env:``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.sources.meltano.yaml import PROJECT_FILE, Where, key_line

PYTHON_VERSION_VAR = "MELTANO__PYTHON_VERSION"
#: Meltano's own pattern (``meltano.core.utils.ENV_VAR_PATTERN``).
ENV_VAR_PATTERN = re.compile(
    r"""
    (?P<escape>\\)?  # escape
    \$  # starts with a '$'
    (?:
        {(?P<curly>\w+)} # ${VAR}
        |
        (?P<normal>[A-Z][A-Z0-9_]*) # $VAR
    )
    """,
    re.VERBOSE,
)


class MissingVariable(Exception):
    """A ``$VAR`` in a value names a variable that is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expand(value: str, env: Mapping[str, str], *, strict: bool = True) -> str:
    """Meltano's ``expand_env_vars`` for one string; ``strict``: raise on an unset variable."""

    def replace(match: re.Match[str]) -> str:
        name = match["curly"] or match["normal"]
        if match["escape"]:
            return f"${{{name}}}" if match["curly"] else f"${name}"
        if name in env:
            return str(env[name])
        if strict:
            raise MissingVariable(name)
        return ""

    return ENV_VAR_PATTERN.sub(replace, value)


def dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``.env`` (``export``, quotes and comments as python-dotenv)."""
    values: dict[str, str] = {}
    from reconciler.support.files import read_text_in  # noqa: PLC0415 - start-up: shutil and tempfile, only when a file is read

    try:
        text = read_text_in(path, path.parent)
    except FileNotFoundError:
        return values
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "cannot read", file=".env", cause=f"not UTF-8 (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError("cannot read", file=".env", cause=exc.strerror or str(exc)) from exc
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        values[key.strip()] = value
    return values


def install_env(root: Path, meltano: Mapping[str, Any]) -> dict[str, str]:
    """What Meltano's ``plugin_installation_env`` holds before the plugin's own part.

    Lowest first: the environment with Meltano's project variables and ``meltano.yml``'s
    ``env:`` (expanded against the environment), then ``.env`` (expanded likewise).
    ``MELTANO__PYTHON_VERSION`` comes below all of these (see :func:`_plugin_env`).
    """
    environ = dict(os.environ)
    resolved = root.resolve()
    given = environ.get("MELTANO_SYS_DIR_ROOT")  # Meltano: Path(os.getenv(...)).resolve()
    sys_dir = Path(given).resolve() if given else resolved / ".meltano"
    project_vars = {
        "MELTANO_PROJECT_ROOT": str(resolved),
        "MELTANO_ENVIRONMENT": "",
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
    }
    top_env = meltano.get("env") or {}
    if not isinstance(top_env, Mapping):
        raise Where(PROJECT_FILE, key_line(meltano, "env"), "env").error("expected a mapping")
    settings_env = {**environ, **project_vars, **{str(k): str(v) for k, v in top_env.items()}}
    env = {k: expand(v, environ, strict=False) for k, v in settings_env.items()}
    for key, value in dotenv(root / ".env").items():
        env[key] = expand(value, environ, strict=False)
    return env


def project_python(meltano: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The project's ``python`` setting (``$MELTANO_PYTHON`` over ``meltano.yml``)."""
    if env.get("MELTANO_PYTHON"):
        return env["MELTANO_PYTHON"]
    value = meltano.get("python")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        where = Where(PROJECT_FILE, key_line(meltano, "python"), "python")
        raise where.error("expected a non-empty string")
    return value
