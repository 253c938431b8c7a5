"""meltano.yml read as Meltano reads it: parse only, no Meltano run, no venv, no network."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from reconciler import sources
from reconciler.errors import ConfigError
from reconciler.layouts.meltano import FINGERPRINT_FILE, MeltanoLayout
from reconciler.models import DesiredState, IndexOptions
from reconciler.sources.meltano import expand, fingerprint

SHA = "0123456789abcdef0123456789abcdef01234567"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(root: Path) -> DesiredState:
    return sources.load(sources.find_project_file(root))


def fp_of(state: DesiredState, plugin: str) -> str:
    layout = state.layout
    assert isinstance(layout, MeltanoLayout)
    return layout.extra_files(plugin)[FINGERPRINT_FILE]


def meltano_fp(args: list[str], python: str | None = None) -> str:
    """Meltano's formula, written out independently of reconciler's code."""
    parts = sorted(set(args)) + ([f"python:{python}"] if python else [])
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()


@pytest.fixture
def public(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project shaped like the public ones (meltano/squared, the Hub's examples)."""
    monkeypatch.setenv("MELTANO__PYTHON_VERSION", "3.11")
    monkeypatch.delenv("MELTANO_SYS_DIR_ROOT", raising=False)
    write(
        tmp_path,
        "meltano.yml",
        """
        version: 1
        default_environment: dev
        project_id: 5b7f2f1e-6a3c-4d6e-9a55-2b3c4d5e6f70
        include_paths:
        - ./extract/*.meltano.yml
        - ./load/**/*.meltano.yml
        plugins:
          utilities:
          - name: sqlfluff
            namespace: sqlfluff
            pip_url: >
              sqlfluff==3.0.7
              sqlfluff-templater-dbt==3.0.7
              dbt-core~=1.7.0
              dbt-postgres~=1.7.0
          transforms:
          - name: tap-gitlab
            namespace: tap_gitlab
            pip_url: https://github.com/meltano/dbt-tap-gitlab.git
          mappings:
          - name: hide-emails
            mapper: meltano-map-transformer
        environments:
        - name: dev
        """,
    )
    write(
        tmp_path,
        "extract/github.meltano.yml",
        f"""
        plugins:
          extractors:
          - name: tap-github
            variant: meltanolabs
          - name: tap-github-org
            inherit_from: tap-github
          - name: tap-slack
            namespace: tap_slack
            pip_url: tap-slack@git+https://github.com/MeltanoLabs/tap-slack.git@{SHA}
              --constraint https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-${{MELTANO__PYTHON_VERSION}}.txt
        """,
    )
    write(
        tmp_path,
        "load/warehouse/snowflake.meltano.yml",
        """
        plugins:
          loaders:
          - name: target-snowflake
            variant: meltanolabs
            pip_url: -r $MELTANO_PROJECT_ROOT/requirements/snowflake.txt
        """,
    )
    write(
        tmp_path,
        "requirements/snowflake.txt",
        """
        # pinned by hand
        meltanolabs-target-snowflake==0.8.0 \\
            ; python_version >= "3.8"
        snowflake-connector-python[pandas]==3.6.0  # the extra is needed
        -c ../constraints/common.txt
        """,
    )
    write(
        tmp_path,
        "plugins/extractors/tap-github--meltanolabs.lock",
        json.dumps(
            {
                "plugin_type": "extractors",
                "name": "tap-github",
                "namespace": "tap_github",
                "variant": "meltanolabs",
                "pip_url": "meltanolabs-tap-github==1.4.0",
                "executable": "tap-github",
            }
        ),
    )
    return tmp_path


def test_public_project(public: Path) -> None:
    state = load(public)
    by_name = {p.name: p for p in state.plugins}
    assert sorted(by_name) == ["sqlfluff", "tap-github", "tap-slack", "target-snowflake"]
    # a utility with several packages in one folded pip_url
    assert by_name["sqlfluff"].requirements == (
        "sqlfluff==3.0.7",
        "sqlfluff-templater-dbt==3.0.7",
        "dbt-core~=1.7.0",
        "dbt-postgres~=1.7.0",
    )
    # a Hub plugin whose pip_url lives only in its lock file; its inherit_from child shares it
    assert by_name["tap-github"].requirements == ("meltanolabs-tap-github==1.4.0",)
    assert state.resolve_names(["tap-github-org"]) == ("tap-github",)
    # a pinned git URL and a constraint URL with Meltano's python version
    slack = by_name["tap-slack"]
    assert slack.requirements == (
        f"tap-slack@git+https://github.com/MeltanoLabs/tap-slack.git@{SHA}",
    )
    assert slack.constraints == (
        "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt",
    )
    # -r $MELTANO_PROJECT_ROOT/requirements/x.txt: its lines, and its own -c relative to it
    snowflake = by_name["target-snowflake"]
    assert tuple(" ".join(r.split()) for r in snowflake.requirements) == (
        'meltanolabs-target-snowflake==0.8.0 ; python_version >= "3.8"',
        "snowflake-connector-python[pandas]==3.6.0",
    )
    assert snowflake.constraints == ("../constraints/common.txt",)
    # locks grouped by plugin type; venvs where Meltano looks
    assert state.lock_path("tap-slack") == public / "lock" / "extractors" / "tap-slack.txt"
    assert state.venv_path("target-snowflake") == (
        public.resolve() / ".meltano" / "loaders" / "target-snowflake" / "venv"
    )
    args = [
        f"tap-slack@git+https://github.com/MeltanoLabs/tap-slack.git@{SHA}",
        "--constraint",
        "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt",
    ]
    assert fp_of(state, "tap-slack") == meltano_fp(args)
    root = str(public.resolve())
    assert fp_of(state, "target-snowflake") == meltano_fp(
        ["-r", f"{root}/requirements/snowflake.txt"]
    )


def test_a_plugin_without_pip_url_is_skipped_with_a_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        "meltano.yml",
        """
        plugins:
          extractors:
          - name: tap-hub-only
            variant: someone
          - name: tap-ok
            namespace: tap_ok
            pip_url: tap-ok==1.0
        """,
    )
    state = load(tmp_path)
    assert [p.name for p in state.plugins] == ["tap-ok"]
    assert len(state.notes) == 1
    assert "'tap-hub-only'" in state.notes[0]
    assert "no pip_url" in state.notes[0]


def test_expansion_follows_meltanos_pattern() -> None:
    env = {"A": "1", "lower": "2", "B_2": "3"}
    assert expand("x$A-${lower}-$B_2", env) == "x1-2-3"
    assert expand(r"\$A \${A}", env) == "$A ${A}"
    assert expand("$lower", env, strict=False) == "$lower"  # $VAR is upper case only
    assert expand("${MISSING}", env, strict=False) == ""


def test_environment_dotenv_and_top_level_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAP_VERSION", "1.0")
    write(tmp_path, ".env", 'export EXTRAS="[s3]"\nPIN=2.0  # a comment\n')
    write(
        tmp_path,
        "meltano.yml",
        """
        env:
          INDEX: https://pypi.example/simple
        plugins:
          extractors:
          - name: tap-a
            namespace: tap_a
            pip_url: tap-a${EXTRAS}==$TAP_VERSION lib==${PIN} --index-url $INDEX
        """,
    )
    (plugin,) = load(tmp_path).plugins
    assert plugin.requirements == ("tap-a[s3]==1.0", "lib==2.0")
    assert plugin.index is not None
    assert plugin.index.index_url == "https://pypi.example/simple"


def test_an_unset_variable_names_the_file_line_plugin_and_variable(tmp_path: Path) -> None:
    write(
        tmp_path,
        "meltano.yml",
        """
        plugins:
          extractors:
          - name: tap-a
            namespace: tap_a
            pip_url: tap-a==${TAP_A_VERSION}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = str(info.value)
    assert message.startswith("meltano.yml:5: plugins.extractors.tap-a.pip_url: ")
    assert "'TAP_A_VERSION' is not set" in message
    assert "'tap-a'" in message


def test_index_options_become_the_plugins_own_settings(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.toml", '[settings]\nextra-index-urls = ["https://b/simple"]\n')
    write(
        tmp_path,
        "meltano.yml",
        """
        plugins:
          loaders:
          - name: target-a
            namespace: target_a
            pip_url: >-
              target-a==1.0;
              --index-url=https://a/simple -f ./wheels --no-index --pre
              -c constraints.txt
        """,
    )
    (plugin,) = load(tmp_path).plugins
    assert plugin.requirements == ("target-a==1.0",)
    assert plugin.index == IndexOptions(
        index_url="https://a/simple",
        extra_index_urls=("https://b/simple",),
        find_links=("./wheels",),
        no_index=True,
    )
    assert plugin.constraints == ("constraints.txt",)
    assert plugin.pre is True


@pytest.mark.parametrize(
    ("pip_url", "expected"),
    [
        pytest.param("tap-a --user", "unsupported pip option '--user'", id="unknown-option"),
        pytest.param("tap-a --index-url", "option --index-url needs a value", id="no-value"),
        pytest.param("tap-a 'unclosed", "cannot split pip_url", id="bad-quoting"),
        pytest.param("tap-a==", "invalid requirement 'tap-a=='", id="bad-requirement"),
        pytest.param("-r missing.txt", "cannot read missing.txt", id="missing-r-file"),
        pytest.param("--pre", "pip_url names no requirement", id="no-requirement"),
    ],
)
def test_bad_pip_url_is_one_line_naming_the_plugin(
    tmp_path: Path, pip_url: str, expected: str
) -> None:
    write(
        tmp_path,
        "meltano.yml",
        f"""
        plugins:
          extractors:
          - name: tap-ok
            namespace: tap_ok
            pip_url: tap-ok==1.0
          - name: tap-a
            namespace: tap_a
            pip_url: "{pip_url}"
        """,
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("meltano.yml:8: plugins.extractors.tap-a.pip_url: plugin 'tap-a'")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "plugins: {}\nenv: {}\nplugins: {}\n", "meltano.yml:3: invalid YAML", id="yaml"
        ),
        pytest.param(
            "plugins:\n  taps:\n  - name: x\n",
            "meltano.yml:2: plugins.taps: unknown plugin type",
            id="unknown-type",
        ),
        pytest.param(
            "plugins:\n  extractors:\n  - namespace: x\n",
            "meltano.yml:3: plugins.extractors[0].name: required key missing",
            id="no-name",
        ),
        pytest.param(
            "plugins:\n  extractors:\n  - name: ../evil\n    pip_url: x\n",
            "meltano.yml:3: plugins.extractors.../evil.name: not a name reconciler can manage",
            id="escaping-name",
        ),
        pytest.param(
            "plugins:\n  extractors:\n  - name: a\n    inherit_from: b\n  - name: b\n"
            "    inherit_from: a\n",
            "inherits from itself (a -> b -> a)",
            id="inheritance-cycle",
        ),
        pytest.param(
            "plugins:\n  extractors:\n  - name: a\n    pip_url: [x]\n",
            "meltano.yml:4: plugins.extractors.a.pip_url: expected a string",
            id="pip-url-not-a-string",
        ),
    ],
)
def test_bad_meltano_yml_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "meltano.yml", text)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_a_duplicate_across_include_files_names_both(tmp_path: Path) -> None:
    write(tmp_path, "meltano.yml", "include_paths: ['sub/*.yml']\n")
    body = "plugins:\n  loaders:\n  - name: t\n    pip_url: t==1\n"
    write(tmp_path, "sub/a.yml", body)
    write(tmp_path, "sub/b.yml", body)
    with pytest.raises(
        ConfigError,
        match=r"^sub/b\.yml:3: plugins\.loaders\.t: duplicate plugin "
        r"\(also in sub/a\.yml:3\)$",
    ):
        load(tmp_path)


def test_inherit_from_chains_share_or_split_venvs(tmp_path: Path) -> None:
    write(
        tmp_path,
        "meltano.yml",
        """
        python: python3.11
        plugins:
          extractors:
          - name: tap-base
            namespace: tap_base
            pip_url: tap-base==1.0
            python: python3.12
          - name: tap-child
            inherit_from: tap-base
          - name: tap-grandchild
            inherit_from: tap-child
          - name: tap-same-url
            inherit_from: tap-base
            pip_url: tap-base==1.0
          - name: tap-own
            inherit_from: tap-grandchild
            pip_url: tap-base==1.1
        """,
    )
    state = load(tmp_path)
    assert [p.name for p in state.plugins] == ["tap-base", "tap-own"]
    for name in ("tap-base", "tap-child", "tap-grandchild", "tap-same-url"):
        assert state.resolve_names([name]) == ("tap-base",)
    base = state.plugin("tap-base")
    own = state.plugin("tap-own")
    assert base is not None
    assert own is not None
    assert base.python == own.python == "python3.12"  # inherited, over the project's
    assert fp_of(state, "tap-own") == fingerprint(["tap-base==1.1"], "python3.12")
    assert fp_of(state, "tap-own") == meltano_fp(["tap-base==1.1"], "python3.12")


def test_names_shared_by_two_types_carry_the_type(tmp_path: Path) -> None:
    write(
        tmp_path,
        "meltano.yml",
        """
        plugins:
          extractors:
          - name: csv
            namespace: tap_csv
            pip_url: tap-csv==1.0
          loaders:
          - name: csv
            namespace: target_csv
            pip_url: target-csv==1.0
          - name: jsonl
            namespace: target_jsonl
            pip_url: target-jsonl==1.0
        """,
    )
    state = load(tmp_path)
    assert [p.name for p in state.plugins] == ["extractors/csv", "jsonl", "loaders/csv"]
    assert state.resolve_names(["csv"]) == ("extractors/csv", "loaders/csv")
    assert state.resolve_names(["loaders/csv", "jsonl"]) == ("loaders/csv", "jsonl")
    assert state.venv_path("loaders/csv").parts[-3:] == ("loaders", "csv", "venv")
    assert state.lock_path("extractors/csv").parts[-2:] == ("extractors", "csv.txt")


def test_sys_dir_root_moves_the_venvs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELTANO_SYS_DIR_ROOT", str(tmp_path / "elsewhere"))
    write(tmp_path, "meltano.yml", "plugins:\n  files:\n  - name: f\n    pip_url: f==1\n")
    state = load(tmp_path)
    assert state.settings.venv_root == (tmp_path / "elsewhere").resolve()
    assert state.venv_path("f") == (tmp_path / "elsewhere").resolve() / "files" / "f" / "venv"


def test_meltano_yml_wins_and_reconciler_toml_beside_holds_settings_only(tmp_path: Path) -> None:
    write(tmp_path, "meltano.yml", "plugins:\n  mappers:\n  - name: m\n    pip_url: m==1\n")
    write(tmp_path, "reconciler.toml", '[settings]\ninstaller = "pip"\nkeep-generations = 1\n')
    nested = tmp_path / "deep" / "er"
    nested.mkdir(parents=True)
    assert sources.find_project_file(None, cwd=nested) == tmp_path / "meltano.yml"
    state = load(tmp_path)
    assert (state.settings.installer, state.settings.keep_generations) == ("pip", 1)
    write(tmp_path, "reconciler.toml", '[settings]\n\n[plugins.x]\nrequirements = ["x"]\n')
    with pytest.raises(ConfigError, match=r"^reconciler\.toml:3: plugins\.x: not allowed beside"):
        load(tmp_path)
    write(tmp_path, "reconciler.toml", '[settings]\nvenv-root = "v"\n')
    with pytest.raises(ConfigError, match=r"^reconciler\.toml:2: settings\.venv-root: not allowed"):
        load(tmp_path)


def test_meltanos_python_version_comes_from_the_meltano_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Meltano sets MELTANO__PYTHON_VERSION to its own interpreter's X.Y: read from the
    ``meltano`` script's ``#!`` line and that venv's pyvenv.cfg, no process started."""
    fake = tmp_path / "fake-meltano"
    (fake / "bin").mkdir(parents=True)
    (fake / "pyvenv.cfg").write_text("home = /x\nversion = 3.9.18\n", encoding="utf-8")
    script = fake / "bin" / "meltano"
    script.write_text(f"#!{fake}/bin/python\nimport meltano\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake / 'bin'}:/usr/bin:/bin")
    monkeypatch.delenv("MELTANO__PYTHON_VERSION", raising=False)
    write(
        tmp_path,
        "meltano.yml",
        "plugins:\n  extractors:\n  - name: t\n"
        "    pip_url: t -c c-${MELTANO__PYTHON_VERSION}.txt\n",
    )
    (plugin,) = load(tmp_path).plugins
    assert plugin.constraints == ("c-3.9.txt",)
    assert plugin.python == f"{fake}/bin/python"  # Meltano's own interpreter, as Meltano would
    monkeypatch.setenv("MELTANO__PYTHON_VERSION", "3.12")  # the environment wins, as in Meltano
    (plugin,) = load(tmp_path).plugins
    assert plugin.constraints == ("c-3.12.txt",)


def test_every_pip_spelling_passes_through_as_pip_writes_it(tmp_path: Path) -> None:
    """VCS (pinned, branch, subdirectory), editable and local paths, a trailing ';'."""
    write(
        tmp_path,
        "meltano.yml",
        f"""
        plugins:
          extractors:
          - name: tap-x
            namespace: tap_x
            pip_url: >-
              git+https://github.com/o/tap-x.git@{SHA}#subdirectory=tap
              git+https://github.com/o/lib.git@main
              -e ./plugins/tap-y ./local/tap-z/ tap-w==1.0;
        """,
    )
    (plugin,) = load(tmp_path).plugins
    assert plugin.requirements == (
        f"git+https://github.com/o/tap-x.git@{SHA}#subdirectory=tap",
        "git+https://github.com/o/lib.git@main",
        "-e ./plugins/tap-y",
        "./local/tap-z/",
        "tap-w==1.0",
    )
