"""``reconciler.toml`` (DESIGN.md section 1): parsing, validation, errors naming file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.models import IndexOptions, Plugin
from reconciler.sources import find_project_file
from reconciler.sources.toml import parse

PROJECT_FILE = Path("/p/reconciler.toml")

FULL = """\
# every key of [settings], and two plugins
[settings]
venv-root = "envs/venvs"
lock-dir = "locks"
python = "python3.12"
index-url = "https://pypi.example/simple"
extra-index-urls = ["https://a.example/simple", "https://b.example/simple"]
find-links = ["wheels", "/srv/wheelhouse"]
no-index = true
installer = "uv"
keep-generations = 1

[plugins.tap-csv]
requirements = ["tap-csv==1.2.0", "requests>=2.31"]   # PEP 508 strings
python = "python3.11"

[plugins."target.jsonl_2"]
requirements = ["target-jsonl[extra]>=1; python_version >= '3.8'"]
"""


def test_full_file_maps_every_key() -> None:
    state = parse(FULL, PROJECT_FILE)
    assert state.project_file == PROJECT_FILE
    assert state.project_dir == Path("/p")
    s = state.settings
    assert s.venv_root == Path("/p/envs/venvs")
    assert s.lock_dir == Path("/p/locks")
    assert s.python == "python3.12"
    assert s.index == IndexOptions(
        index_url="https://pypi.example/simple",
        extra_index_urls=("https://a.example/simple", "https://b.example/simple"),
        find_links=("wheels", "/srv/wheelhouse"),  # kept as written: no machine paths in locks
        no_index=True,
    )
    assert s.installer == "uv"
    assert s.keep_generations == 1
    assert state.plugins == (
        Plugin("tap-csv", ("tap-csv==1.2.0", "requests>=2.31"), "python3.11"),
        Plugin(
            "target.jsonl_2",
            ("target-jsonl[extra]>=1; python_version >= '3.8'",),
            "python3.12",
        ),
    )
    assert state.plugin("tap-csv") == state.plugins[0]
    assert state.plugin("nope") is None
    assert state.lock_path("tap-csv") == Path("/p/locks/tap-csv.txt")
    assert state.venv_path("tap-csv") == Path("/p/envs/venvs/tap-csv")


def test_defaults() -> None:
    state = parse('[plugins.a]\nrequirements = ["x"]\n', PROJECT_FILE)
    s = state.settings
    assert s.venv_root == Path("/p/.venvs")
    assert s.lock_dir == Path("/p/lock")
    assert s.python == "python3"
    assert s.index == IndexOptions()
    assert s.installer == "auto"
    assert s.keep_generations == 0
    assert state.plugins == (Plugin("a", ("x",), "python3"),)


def test_resolver_and_universal_settings() -> None:
    text = (
        '[settings]\nresolver = "pip-tools"\nuniversal = true\n\n'
        '[plugins.a]\nrequirements = ["x"]\n\n'
        '[plugins.b]\nrequirements = ["x"]\nuniversal = false\n'
    )
    state = parse(text, PROJECT_FILE)
    assert state.settings.resolver == "pip-tools"
    assert state.settings.universal is True
    assert [(p.name, p.universal) for p in state.plugins] == [("a", True), ("b", False)]
    defaults = parse('[plugins.a]\nrequirements = ["x"]\nuniversal = true\n', PROJECT_FILE)
    assert defaults.settings.resolver == "auto"
    assert defaults.settings.universal is False
    assert defaults.plugins[0].universal is True


def test_empty_file_declares_nothing() -> None:
    state = parse("", PROJECT_FILE)
    assert state.plugins == ()
    assert state.settings.venv_root == Path("/p/.venvs")


def test_plugin_python_defaults_to_settings_python() -> None:
    text = '[settings]\npython = "3.11"\n[plugins.a]\nrequirements = ["x"]\n'
    (plugin,) = parse(text, PROJECT_FILE).plugins
    assert plugin.python == "3.11"


def test_paths_resolve_relative_to_the_project_dir() -> None:
    text = '[settings]\nvenv-root = "../shared/venvs"\nlock-dir = "/abs/locks"\n'
    s = parse(text, PROJECT_FILE).settings
    assert s.venv_root == Path("/shared/venvs")
    assert s.lock_dir == Path("/abs/locks")


def test_plugins_are_sorted_by_name() -> None:
    text = "".join(f'[plugins.{n}]\nrequirements = ["x"]\n' for n in ("c", "a", "b"))
    assert [p.name for p in parse(text, PROJECT_FILE).plugins] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-char"),
        pytest.param("a" * 64, id="64-chars"),
        pytest.param("Tap_CSV.v2-x", id="mixed"),
        pytest.param("0tap", id="leading-digit"),
    ],
)
def test_valid_plugin_names(name: str) -> None:
    text = f'[plugins."{name}"]\nrequirements = ["x"]\n'
    assert [p.name for p in parse(text, PROJECT_FILE).plugins] == [name]


def test_inline_tables_are_accepted() -> None:
    text = 'plugins = { a = { requirements = ["x"] } }\n'
    assert [p.name for p in parse(text, PROJECT_FILE).plugins] == ["a"]


# --------------------------------------------------------------------------- errors


def _plugin(name: str, body: str = 'requirements = ["x"]') -> str:
    return f'# header\n\n[plugins."{name}"]\n{body}\n'


BAD = [
    pytest.param('[settings]\nvenv-root = ".venvs"\npython = \n', 3, (), id="malformed-toml"),
    pytest.param('[settings]\n\nvenv-root = ".venvs\n', 3, (), id="unterminated-string"),
    pytest.param(
        '[settings]\nvenv-root = ".venvs"\npyhton = "x"\n', 3, ("pyhton",), id="unknown-setting"
    ),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\npyhton = "3.11"\n',
        3,
        ("pyhton",),
        id="unknown-plugin-key",
    ),
    pytest.param(
        'version = 1\n\n[plugins.a]\nrequirements = ["x"]\n',
        1,
        ("version",),
        id="unknown-top-level-key",
    ),
    pytest.param('[settings]\nvenv-root = ".venvs"\npython = 3\n', 3, ("python",), id="python-int"),
    pytest.param('[settings]\n\nno-index = "yes"\n', 3, ("no-index",), id="no-index-str"),
    pytest.param(
        '[plugins.a]\n\nrequirements = "x"\n', 3, ("requirements",), id="requirements-str"
    ),
    pytest.param(
        '[plugins.a]\n\nrequirements = "requests"\n',
        3,
        ("requirements",),
        id="requirements-str-long",
    ),
    pytest.param("[plugins.a]\n\nrequirements = [1]\n", 3, ("requirements",), id="requirement-int"),
    pytest.param(
        '[settings]\n\nextra-index-urls = "https://x/simple"\n',
        3,
        ("extra-index-urls",),
        id="extra-index-urls-str",
    ),
    pytest.param('[settings]\n\nfind-links = "wheels"\n', 3, ("find-links",), id="find-links-str"),
    pytest.param(
        "[settings]\n\nkeep-generations = true\n",
        3,
        ("keep-generations",),
        id="keep-generations-bool",
    ),
    pytest.param(
        "[settings]\n\nkeep-generations = 2\n", 3, ("keep-generations",), id="keep-generations-2"
    ),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\npython = 3.11\n',
        3,
        ("python",),
        id="plugin-python-float",
    ),
    pytest.param(
        '[plugins.a]\n\nrequirements = ["ok", "x>="]\n',
        3,
        ("requirements", "x>="),
        id="invalid-pep508",
    ),
    pytest.param(
        '[plugins.a]\n\nrequirements = ["requests (>=2"]\n',
        3,
        ("requirements",),
        id="invalid-pep508-paren",
    ),
    pytest.param(_plugin("../x"), 3, ("../x",), id="dotdot"),
    pytest.param(_plugin("a/b"), 3, ("a/b",), id="slash"),
    pytest.param(_plugin("/abs"), 3, ("/abs",), id="absolute"),
    pytest.param(_plugin(""), 3, (), id="empty-name"),
    pytest.param(_plugin("." + "a"), 3, (), id="leading-dot"),
    pytest.param(_plugin("-a"), 3, (), id="leading-dash"),
    pytest.param(_plugin("a b"), 3, (), id="space"),
    pytest.param(_plugin("a" * 65), 3, ("a" * 65,), id="65-chars"),
    pytest.param(
        '[plugins.Tap]\nrequirements = ["x"]\n\n[plugins.tap]\nrequirements = ["x"]\n',
        4,
        ("tap", "Tap"),
        id="case-duplicate",
    ),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\n\n[plugins.a]\nrequirements = ["y"]\n',
        4,
        (),
        id="duplicate-table",
    ),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\n\n[plugins.a]\nrequirements = ["y"]\n'
        'python = "3.11"\n\n\n[settings]\n',
        4,
        (),
        id="duplicate-table-long",
    ),
    pytest.param(
        '[settings]\npython = "a"\n[settings]\nno-index = true\n',
        3,
        (),
        id="duplicate-settings-table",
    ),
    pytest.param(
        '[settings]\npython = "a"\npython = "b"\n', 3, ("python",), id="duplicate-settings-key"
    ),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\nrequirements = ["y"]\n',
        3,
        ("requirements",),
        id="duplicate-plugin-key",
    ),
    pytest.param('[settings]\n\ninstaller = "conda"\n', 3, ("installer", "conda"), id="installer"),
    pytest.param(
        '[settings]\n\nresolver = "poetry"\n', 3, ("resolver", "poetry", "pip-tools"), id="resolver"
    ),
    pytest.param('[settings]\n\nuniversal = "yes"\n', 3, ("universal",), id="universal-str"),
    pytest.param(
        '[plugins.a]\nrequirements = ["x"]\nuniversal = 1\n', 3, ("universal",), id="universal-int"
    ),
    pytest.param(
        "[plugins.a]\n\nrequirements = []\n", 3, ("requirements",), id="empty-requirements"
    ),
]


@pytest.mark.parametrize(("text", "line", "mentions"), BAD)
def test_bad_config_is_a_one_line_error_naming_file_and_line(
    text: str, line: int, mentions: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, PROJECT_FILE)
    message = str(info.value)
    assert message.startswith(f"reconciler.toml:{line}:"), message
    assert "\n" not in message
    for word in mentions:
        assert word in message


def test_missing_requirements_names_the_plugin_and_key() -> None:
    text = '[settings]\n\n[plugins.tap-csv]\npython = "3.11"\n'
    with pytest.raises(ConfigError) as info:
        parse(text, PROJECT_FILE)
    message = str(info.value)
    assert re.match(r"reconciler\.toml:[34]:", message), message
    assert "tap-csv" in message
    assert "requirements" in message
    assert "\n" not in message


def test_venv_root_must_not_be_the_project_dir() -> None:
    with pytest.raises(ConfigError, match="venv-root"):
        parse('[settings]\nvenv-root = "."\n', PROJECT_FILE)


def test_error_messages_do_not_leak_index_credentials() -> None:
    text = '[plugins.a]\nrequirements = ["pkg @ https://user:hunter2@host/pkg.whl ; ;"]\n'
    with pytest.raises(ConfigError) as info:
        parse(text, PROJECT_FILE)
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("reconciler.toml:2:")


# --------------------------------------------------------------------------- find_project_file


def _project(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "reconciler.toml"
    path.write_text('[plugins.a]\nrequirements = ["x"]\n', encoding="utf-8")
    return path


def test_find_explicit_dir(tmp_path: Path) -> None:
    path = _project(tmp_path / "proj")
    _project(tmp_path)  # an outer project must not win over --project
    assert find_project_file(tmp_path / "proj", cwd=tmp_path) == path


def test_find_explicit_file(tmp_path: Path) -> None:
    path = _project(tmp_path / "proj")
    assert find_project_file(path) == path


def test_find_explicit_dir_without_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"reconciler\.toml") as info:
        find_project_file(tmp_path)
    assert "\n" not in str(info.value)


def test_find_searches_upward(tmp_path: Path) -> None:
    path = _project(tmp_path / "proj")
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_file(None, cwd=nested) == path


def test_find_nearest_wins(tmp_path: Path) -> None:
    _project(tmp_path / "outer")
    inner = _project(tmp_path / "outer" / "inner")
    assert find_project_file(None, cwd=tmp_path / "outer" / "inner") == inner


def test_find_not_found(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"reconciler\.toml") as info:
        find_project_file(None, cwd=nested)
    assert "\n" not in str(info.value)


def test_a_bom_is_dropped_and_a_bad_byte_is_counted_from_the_files_start(tmp_path: Path) -> None:
    from reconciler.sources.toml import load  # noqa: PLC0415

    project = tmp_path / "reconciler.toml"
    project.write_bytes(b'\xef\xbb\xbf[plugins.a]\nrequirements = ["x"]\n')
    assert [p.name for p in load(project).plugins] == ["a"]
    project.write_bytes(b"\xef\xbb\xbf# \xff\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 \(byte 5\)"):
        load(project)


# --------------------------------------------------------------------------- the two readers

VALID = [
    pytest.param(FULL, id="full"),
    pytest.param('[plugins.a]\nrequirements = ["x"]\n', id="minimal"),
    pytest.param("", id="empty"),
    pytest.param('plugins = { a = { requirements = ["x"], pre = true } }\n', id="inline"),
    pytest.param(
        '[settings]\nresolver = "uv"\nuniversal = true\n\n'
        '[plugins.a]\nrequirements = ["x"]\nuniversal = false\nconstraints = ["c.txt"]\n'
        'index-url = "https://i/simple"\nextra-index-urls = []\nfind-links = ["w"]\n'
        "no-index = false\n",
        id="every-plugin-key",
    ),
]


@pytest.mark.parametrize("text", VALID)
def test_the_fast_reader_reads_valid_files_as_the_edge_reader_does(text: str) -> None:
    from reconciler.sources import toml  # noqa: PLC0415

    fast = toml._fast_raw(text)
    assert fast is not None, "a valid file takes the fast path"
    assert _plain(fast) == _plain(toml._edge_raw(text, PROJECT_FILE.name))


def _plain(raw: object) -> dict[str, object]:
    """A raw project as dicts: the fast reader's records and the edge reader's attrs classes."""
    import attrs  # noqa: PLC0415

    def fields(obj: object) -> dict[str, object]:
        return attrs.asdict(obj) if attrs.has(type(obj)) else dict(vars(obj))  # type: ignore[arg-type]

    settings, plugins = raw.settings, raw.plugins  # type: ignore[attr-defined]
    return {"settings": fields(settings), "plugins": {k: fields(v) for k, v in plugins.items()}}


def test_the_fast_readers_field_tables_are_the_raw_classes() -> None:
    """Names, types, required keys and defaults of the fast reader's tables match the attrs
    classes the edge reader structures (a field added to one and not the other fails here)."""
    import attrs  # noqa: PLC0415

    from reconciler.sources import toml, toml_raw  # noqa: PLC0415

    def described(cls: type) -> list[tuple[str, str, object]]:
        out = []
        for field in attrs.fields(cls):
            kind = field.type if isinstance(field.type, str) else repr(field.type)
            kind = kind.replace("<class '", "").replace("'>", "")
            default: object = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                assert default.factory is list
                default = "[]"
            out.append((field.name, kind, "required" if default is attrs.NOTHING else default))
        return out

    def table(rows: tuple[tuple[str, str, object], ...]) -> list[tuple[str, str, object]]:
        return [
            (
                name,
                kind,
                "required"
                if default is toml._REQUIRED
                else "[]"
                if default is toml._LIST
                else default,
            )
            for name, kind, default in rows
        ]

    assert table(toml._SETTINGS_FIELDS) == described(toml_raw.RawSettings)
    assert table(toml._PLUGIN_FIELDS) == described(toml_raw.RawPlugin)
    assert [f.name for f in attrs.fields(toml_raw.RawProject)] == ["settings", "plugins"]


@pytest.mark.parametrize(("text", "line", "mentions"), BAD)
def test_the_fast_reader_refuses_what_the_edge_reader_explains(
    text: str, line: int, mentions: tuple[str, ...]
) -> None:
    """Type and key errors never pass the fast reader (validation errors are shared)."""
    from reconciler.sources import toml  # noqa: PLC0415

    fast = toml._fast_raw(text)
    try:
        edge = toml._edge_raw(text, PROJECT_FILE.name)
    except ConfigError:
        assert fast is None
    else:
        assert fast is not None
        assert _plain(fast) == _plain(edge)  # e.g. a bad plugin name: _validate refuses both


def test_plan_path_loads_without_tomlkit_or_cattrs(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    (tmp_path / "reconciler.toml").write_text(FULL, encoding="utf-8")
    code = (
        "import sys\n"
        "from reconciler.sources.toml import load\n"
        f"load(__import__('pathlib').Path({str(tmp_path / 'reconciler.toml')!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tomlkit', 'cattrs')))\n"
        "print('encodings.utf_8_sig' in sys.modules)\n"
        "print('reconciler.sources.toml_raw' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # no codec module loaded for a BOM, no attrs class built for the raw file
    assert out.stdout.split() == ["[]", "False", "False"]
