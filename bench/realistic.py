"""The realistic row (issue 20): plugins as people have them, all offline.

- three MB-sized wheels with many files (``realbig-1..3``: ~1,000 modules and a 1 MB data file
  each), shared by the plugins;
- an sdist (``realsdist``) that has to be built (an in-tree PEP 517 backend, so no build
  dependency has to come from an index);
- a plugin from a local git repository (``real-git-tap @ git+file://...``), built the same way;
- three ordinary plugin wheels with console scripts.

Everything is generated from a fixed seed under ``build/bench/real/`` and reused between runs.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import wheelhouse as wh

SPEC = 1
SEED = "issue20-realistic"
BIG = ("realbig-1", "realbig-2", "realbig-3")
SDIST = "realsdist"
GIT_PLUGIN = "real-git-tap"
#: plugin name -> its requirements (the git plugin's requirement is filled in with the URL)
WHEEL_PLUGINS = {
    "real-tap-a": ("realbig-1", "realbig-2"),
    "real-tap-b": ("realbig-2", "realbig-3", SDIST),
    "real-target-c": ("realbig-3", SDIST),
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

#: A PEP 517 backend small enough to ship inside the sdist: builds a wheel from ``src/``.
BACKEND = '''
"""In-tree build backend of a benchmark fixture (stdlib only)."""
import base64, hashlib, json, os, zipfile

def _meta():
    with open("project.json", encoding="utf-8") as handle:
        return json.load(handle)

def _hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    meta = _meta()
    norm = meta["name"].replace("-", "_")
    info = f"{norm}-{meta['version']}.dist-info"
    files = []
    for root, _dirs, names in sorted(os.walk("src")):
        for name in sorted(names):
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                files.append((os.path.relpath(path, "src"), handle.read()))
    lines = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {meta['version']}"]
    lines += [f"Requires-Dist: {r}" for r in meta["requires"]]
    files.append((f"{info}/METADATA", ("\\n".join(lines) + "\\n").encode()))
    wheel = "Wheel-Version: 1.0\\nGenerator: bench\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files.append((f"{info}/WHEEL", wheel.encode()))
    if meta.get("script"):
        entry = f"[console_scripts]\\n{meta['name']} = {norm}.cli:main\\n"
        files.append((f"{info}/entry_points.txt", entry.encode()))
    record = [f"{p},{_hash(d)},{len(d)}" for p, d in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\\n".join(record) + "\\n").encode()))
    name = f"{norm}-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files:
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return name
'''


@dataclass(frozen=True)
class Realistic:
    """The generated fixtures."""

    wheels: Path  # find-links directory: big wheels, plugin wheels, the sdist
    repo: Path  # the git plugin's repository
    commit: str

    def requirements(self) -> dict[str, list[str]]:
        """Plugin name -> its requirements, as declared in reconciler.toml / meltano.yml."""
        declared = {name: [name] for name in WHEEL_PLUGINS}
        declared[GIT_PLUGIN] = [f"{GIT_PLUGIN} @ git+{self.repo.as_uri()}@{self.commit}"]
        return declared


def _module(rng: random.Random, name: str, size: int) -> bytes:
    lines = [f'"""{name} (synthetic realistic fixture)."""', ""]
    while sum(len(line) + 1 for line in lines) < size:
        n = rng.randint(0, 10**6)
        lines += [f"def f_{n}(x):", f"    return x * {n} + {rng.randint(1, 99)}", ""]
    return ("\n".join(lines) + "\n").encode()


def _big_files(name: str) -> list[tuple[str, bytes]]:
    rng = random.Random(f"{SEED}:{name}")  # noqa: S311 - fixtures, not crypto
    pkg = name.replace("-", "_")
    files = [(f"{pkg}/__init__.py", b'__version__ = "1.0.0"\n')]
    for sub in range(20):
        files.append((f"{pkg}/sub{sub:02d}/__init__.py", b""))
        files += [
            (f"{pkg}/sub{sub:02d}/m{i:02d}.py", _module(rng, name, rng.randint(1500, 4000)))
            for i in range(50)
        ]
    blob = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    files.append((f"{pkg}/data.bin", blob))
    return files


def _plugin_files(name: str, requires: tuple[str, ...]) -> list[tuple[str, bytes]]:
    pkg = name.replace("-", "_")
    imports = "".join(f"import {r.replace('-', '_')}\n" for r in requires)
    cli = f"{imports}\n\ndef main():\n    print({name!r})\n    return 0\n"
    return [(f"{pkg}/__init__.py", b""), (f"{pkg}/cli.py", cli.encode())]


def _write_wheel(
    dest: Path, name: str, files: list[tuple[str, bytes]], requires: tuple[str, ...], script: bool
) -> None:
    norm = name.replace("-", "_")
    info = f"{norm}-1.0.0.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0.0"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    files = [*files, (f"{info}/METADATA", ("\n".join(meta) + "\n").encode())]
    wheel = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{info}/WHEEL", wheel.encode()))
    if script:
        files.append(
            (f"{info}/entry_points.txt", f"[console_scripts]\n{name} = {norm}.cli:main\n".encode())
        )
    record = [f"{p},{wh.record_hash(d)},{len(d)}" for p, d in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(dest / f"{norm}-1.0.0-py3-none-any.whl", "w") as archive:
        for path, data in files:
            entry = zipfile.ZipInfo(path, date_time=wh.DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = wh.FILE_MODE
            archive.writestr(entry, data)


def _source_tree(name: str, requires: tuple[str, ...], script: bool) -> list[tuple[str, bytes]]:
    """An in-tree-backend project: pyproject.toml, backend, project.json and src/."""
    rng = random.Random(f"{SEED}:{name}")  # noqa: S311
    pkg = name.replace("-", "_")
    pyproject = textwrap.dedent(
        """\
        [build-system]
        requires = []
        build-backend = "bench_backend"
        backend-path = ["."]
        """
    )
    meta = {"name": name, "version": "1.0.0", "requires": list(requires), "script": script}
    files = [
        ("pyproject.toml", pyproject.encode()),
        ("bench_backend.py", BACKEND.encode()),
        ("project.json", json.dumps(meta, sort_keys=True).encode()),
    ]
    files += [(f"src/{path}", data) for path, data in _plugin_files(name, requires)]
    files += [(f"src/{pkg}/m{i:02d}.py", _module(rng, name, 2500)) for i in range(40)]
    return files


def _write_sdist(dest: Path, name: str) -> None:
    base = f"{name}-1.0.0"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, data in _source_tree(name, (), script=False):
            entry = tarfile.TarInfo(f"{base}/{path}")
            entry.size, entry.mtime, entry.mode = len(data), 0, 0o644
            archive.addfile(entry, io.BytesIO(data))
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n".encode()
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size, entry.mtime, entry.mode = len(pkg_info), 0, 0o644
        archive.addfile(entry, io.BytesIO(pkg_info))
    (dest / f"{base}.tar.gz").write_bytes(buffer.getvalue())


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def ensure(root: Path) -> Realistic:
    """Build (or reuse) the fixtures under ``root``."""
    stamp = root / "stamp.json"
    wheels, repo = root / "wheels", root / "repo" / GIT_PLUGIN
    try:
        saved = json.loads(stamp.read_text(encoding="utf-8"))
        if saved.get("spec") == SPEC and (repo / ".git").is_dir():
            return Realistic(wheels, repo, str(saved["commit"]))
    except (OSError, ValueError, KeyError):
        pass
    import shutil  # noqa: PLC0415

    shutil.rmtree(root, ignore_errors=True)
    wheels.mkdir(parents=True)
    for name in BIG:
        _write_wheel(wheels, name, _big_files(name), (), script=False)
    for name, requires in WHEEL_PLUGINS.items():
        _write_wheel(wheels, name, _plugin_files(name, requires), requires, script=True)
    _write_sdist(wheels, SDIST)
    repo.mkdir(parents=True)
    for path, data in _source_tree(GIT_PLUGIN, ("realbig-1",), script=True):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "realistic git plugin")
    commit = _git(repo, "rev-parse", "HEAD")
    stamp.write_text(json.dumps({"spec": SPEC, "commit": commit}) + "\n", encoding="utf-8")
    return Realistic(wheels, repo, commit)


def toml_text(real: Realistic, python: str) -> str:
    """The realistic project's ``reconciler.toml``."""
    lines = [
        "[settings]",
        f"find-links = [{json.dumps(str(real.wheels))}]",
        "no-index = true",
        f"python = {json.dumps(python)}",
        "",
    ]
    for name, requirements in sorted(real.requirements().items()):
        lines += [f"[plugins.{name}]", f"requirements = {json.dumps(requirements)}", ""]
    return "\n".join(lines)


def meltano_yml(real: Realistic) -> str:
    """The same plugins as a Meltano project (pip_url with the wheelhouse)."""
    lines = [
        "version: 1",
        "project_id: reconciler-bench-realistic",
        "default_environment: dev",
        "environments:",
        "- name: dev",
        "plugins:",
        "  extractors:",
    ]
    for name, requirements in sorted(real.requirements().items()):
        spec = requirements[0].split(" @ ", 1)[-1]
        lines += [
            f"  - name: {name}",
            f"    namespace: {name.replace('-', '_')}",
            f"    pip_url: {spec} --no-index --find-links {real.wheels}",
            f"    executable: {name}",
        ]
    return "\n".join(lines) + "\n"
