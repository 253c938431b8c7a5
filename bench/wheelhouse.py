"""A synthetic, deterministic, offline wheelhouse for the benchmark (pure standard library).

Shapes (all ``py3-none-any``, dependency-free libraries, built with a seeded RNG):

* ``benchlib-00`` — the *upgrade* library: versions 1.0.0 and 1.1.0 (30 modules, ~100 KB).
* ``benchlib-01`` … ``benchlib-10`` — *many files*: 200 small modules each (~300 KB).
* ``benchlib-11`` … ``benchlib-18`` — *big*: ~1 MB installed (four 240 KB data modules + code).
* ``benchlib-19`` … ``benchlib-59`` — *ordinary*: 3-25 modules of 1-6 KB.
* ``bench-tap-000`` … — plugins: a console script of the same name and 5-15 dependencies drawn
  from the libraries (plugin 0 always depends on the upgrade library).

Wheels are written like ``fixtures/make_wheels.py`` does (fixed timestamps, order, modes), so
the same spec gives byte-identical files; a manifest lets later runs reuse the directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: Bump when the generator's output changes, to invalidate cached wheelhouses.
SPEC_VERSION = 1
SEED = 20240605
N_LIBRARIES = 60
UPGRADE_LIBRARY = "benchlib-00"
OLD_VERSION = "1.0.0"
NEW_VERSION = "1.1.0"
TAG = "py3-none-any"
DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
MANIFEST = "MANIFEST.json"

_WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "record",
    "stream",
    "schema",
    "batch",
    "cursor",
    "state",
    "token",
    "page",
    "offset",
    "limit",
    "client",
    "request",
    "response",
    "payload",
    "field",
    "value",
    "column",
    "table",
    "catalog",
    "message",
    "buffer",
    "encode",
    "decode",
    "parse",
    "render",
    "flush",
    "retry",
    "backoff",
    "window",
    "merge",
    "split",
    "filter",
]


@dataclass(frozen=True)
class Dist:
    """One distribution to build: name, version, files and metadata."""

    name: str
    version: str
    kind: str
    requires: tuple[str, ...] = ()
    script: bool = False

    @property
    def normalized(self) -> str:
        """Wheel-filename and import form of the name (``bench-tap-0`` -> ``bench_tap_0``)."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def filename(self) -> str:
        """The wheel's file name."""
        return f"{self.normalized}-{self.version}-{TAG}.whl"


def library_name(index: int) -> str:
    """Name of shared library number ``index``."""
    return f"benchlib-{index:02d}"


def plugin_name(index: int) -> str:
    """Name of plugin number ``index`` (also its console script and its reconciler.toml key)."""
    return f"bench-tap-{index:03d}"


def library_kind(index: int) -> str:
    """The shape of library ``index``: upgrade, many, big or ordinary."""
    if index == 0:
        return "upgrade"
    if index <= 10:
        return "many"
    if index <= 18:
        return "big"
    return "ordinary"


def plugin_dependencies(index: int) -> tuple[str, ...]:
    """The 5-15 libraries plugin ``index`` requires (seeded; plugin 0 includes the upgrade one)."""
    rng = random.Random(f"{SEED}:deps:{index}")  # noqa: S311 - fixtures, not crypto
    count = rng.randint(5, 15)
    chosen = set(rng.sample(range(N_LIBRARIES), count))
    if index == 0:
        chosen.add(0)
    return tuple(library_name(i) for i in sorted(chosen))


def plan_dists(n_plugins: int) -> list[Dist]:
    """Every distribution of a wheelhouse holding ``n_plugins`` plugins."""
    dists = [
        Dist(UPGRADE_LIBRARY, OLD_VERSION, "upgrade"),
        Dist(UPGRADE_LIBRARY, NEW_VERSION, "upgrade"),
    ]
    dists += [Dist(library_name(i), "1.0.0", library_kind(i)) for i in range(1, N_LIBRARIES)]
    dists += [
        Dist(plugin_name(i), "1.0.0", "plugin", requires=plugin_dependencies(i), script=True)
        for i in range(n_plugins)
    ]
    return dists


def _code_module(rng: random.Random, package: str, version: str, target_size: int) -> str:
    """Plausible Python source of about ``target_size`` bytes."""
    parts = [f'"""Module of {package} {version} (synthetic benchmark fixture)."""\n\n']
    parts.append("from __future__ import annotations\n\n")
    size = sum(len(p) for p in parts)
    n = 0
    while size < target_size:
        words = rng.sample(_WORDS, 3)
        name = "_".join(words) + f"_{n}"
        constant = rng.randint(0, 1 << 30)
        body = (
            f"\n\ndef {name}(value: int, scale: int = {rng.randint(1, 9)}) -> int:\n"
            f'    """Return {words[0]} {words[1]} of value, mixed with {words[2]}."""\n'
            f"    result = (value * scale) ^ {constant}\n"
            f"    for step in range({rng.randint(2, 6)}):\n"
            f"        result = (result << 1) % {rng.randint(1000, 99999)} + step\n"
            "    return result\n"
        )
        parts.append(body)
        size += len(body)
        n += 1
    return "".join(parts)


def _data_module(rng: random.Random, size: int) -> str:
    """A module holding ~``size`` bytes of (poorly compressible) base64 data."""
    raw = rng.randbytes(size * 3 // 4)
    text = base64.b64encode(raw).decode()
    lines = [text[i : i + 76] for i in range(0, len(text), 76)]
    return (
        '"""Packed data (synthetic)."""\n\nDATA = (\n'
        + "".join(f'    "{x}"\n' for x in lines)
        + ")\n"
    )


def package_files(dist: Dist) -> list[tuple[str, bytes]]:
    """The importable files of ``dist`` (without dist-info), in archive order."""
    rng = random.Random(f"{SEED}:files:{dist.name}:{dist.version}")  # noqa: S311
    pkg = dist.normalized
    files: list[tuple[str, str]] = []
    init = f'"""{dist.name} (synthetic benchmark fixture)."""\n\n__version__ = "{dist.version}"\n'
    if dist.kind == "plugin":
        imports = "".join(f"import {re.sub(r'-', '_', r)}\n" for r in dist.requires)
        cli = (
            f'"""Console entry point of {dist.name}."""\n\nfrom __future__ import annotations\n\n'
            f"{imports}\n\n"
            "def main() -> int:\n"
            '    """Print this plugin\'s name and version."""\n'
            f'    print("{dist.name} {dist.version}")\n'
            "    return 0\n"
        )
        files += [(f"{pkg}/__init__.py", init), (f"{pkg}/cli.py", cli)]
        files.append((f"{pkg}/streams.py", _code_module(rng, dist.name, dist.version, 4000)))
    elif dist.kind == "upgrade":
        files.append((f"{pkg}/__init__.py", init))
        files += [
            (f"{pkg}/mod_{i:03d}.py", _code_module(rng, dist.name, dist.version, 3200))
            for i in range(30)
        ]
    elif dist.kind == "many":
        files.append((f"{pkg}/__init__.py", init))
        for sub in range(10):
            files.append((f"{pkg}/sub{sub:02d}/__init__.py", ""))
            files += [
                (
                    f"{pkg}/sub{sub:02d}/m{i:02d}.py",
                    _code_module(rng, dist.name, dist.version, rng.randint(800, 2200)),
                )
                for i in range(20)
            ]
    elif dist.kind == "big":
        files.append((f"{pkg}/__init__.py", init))
        files += [(f"{pkg}/data_{i}.py", _data_module(rng, 240_000)) for i in range(4)]
        files += [
            (f"{pkg}/core_{i}.py", _code_module(rng, dist.name, dist.version, 6000))
            for i in range(6)
        ]
    else:
        files.append((f"{pkg}/__init__.py", init))
        files += [
            (
                f"{pkg}/mod_{i:02d}.py",
                _code_module(rng, dist.name, dist.version, rng.randint(1000, 6000)),
            )
            for i in range(rng.randint(3, 25))
        ]
    return [(path, text.encode()) for path, text in files]


def record_hash(data: bytes) -> str:
    """RECORD-style hash: ``sha256=`` + urlsafe base64 digest without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def wheel_files(dist: Dist) -> list[tuple[str, bytes]]:
    """``(archive path, content)`` pairs in their fixed order, RECORD last."""
    info = f"{dist.normalized}-{dist.version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {dist.name}",
        f"Version: {dist.version}",
        f"Summary: Synthetic benchmark {dist.kind} {dist.name}",
        "Requires-Python: >=3.8",
        *(f"Requires-Dist: {req}>=1.0" for req in dist.requires),
    ]
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: bench-wheelhouse",
        "Root-Is-Purelib: true",
        f"Tag: {TAG}",
    ]
    files = package_files(dist)
    files.append((f"{info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    files.append((f"{info}/WHEEL", ("\n".join(wheel) + "\n").encode()))
    files.append((f"{info}/top_level.txt", f"{dist.normalized}\n".encode()))
    if dist.script:
        entry = f"[console_scripts]\n{dist.name} = {dist.normalized}.cli:main\n"
        files.append((f"{info}/entry_points.txt", entry.encode()))
    record = [f"{path},{record_hash(data)},{len(data)}" for path, data in files]
    record.append(f"{info}/RECORD,,")
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    return files


def write_wheel(dist: Dist, dest: Path) -> Path:
    """Write ``dist`` as a wheel into ``dest``; return its path."""
    target = dest / dist.filename
    with zipfile.ZipFile(target, "w") as zf:
        for path, data in wheel_files(dist):
            zinfo = zipfile.ZipInfo(path, date_time=DATE_TIME)
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zinfo.external_attr = FILE_MODE
            zinfo.create_system = 3
            zf.writestr(zinfo, data)
    return target


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Wheelhouse:
    """A built wheelhouse: its directory and the sha256 of every wheel, by file name."""

    path: Path
    hashes: dict[str, str]
    built: bool

    def wheel(self, name: str, version: str) -> Path:
        """The wheel file of ``name`` ``version``."""
        return self.path / Dist(name, version, "").filename

    def sha256(self, name: str, version: str) -> str:
        """The hex sha256 of ``name`` ``version``'s wheel."""
        return self.hashes[Dist(name, version, "").filename]

    def total_bytes(self) -> int:
        """Size of all wheels together."""
        return sum((self.path / f).stat().st_size for f in self.hashes)


def ensure(dest: Path, n_plugins: int) -> Wheelhouse:
    """Build the wheelhouse into ``dest`` unless an identical one (per manifest) is there."""
    key = {"spec": SPEC_VERSION, "seed": SEED, "libraries": N_LIBRARIES, "plugins": n_plugins}
    manifest_path = dest / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("key") == key:
            cached: dict[str, str] = manifest["wheels"]
            names = {p.name for p in dest.glob("*.whl")}
            if names == set(cached) and all(
                (dest / f).stat().st_size == size for f, size in manifest["sizes"].items()
            ):
                return Wheelhouse(dest, dict(cached), built=False)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for dist in plan_dists(n_plugins):
        path = write_wheel(dist, dest)
        hashes[path.name] = sha256_file(path)
        sizes[path.name] = path.stat().st_size
    payload = {"key": key, "wheels": hashes, "sizes": sizes}
    manifest_path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Wheelhouse(dest, hashes, built=True)
