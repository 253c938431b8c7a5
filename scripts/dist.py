"""Build venv-reconciler's wheel and sdist reproducibly (``make dist``).

Two builds of the same tree give the same bytes:

- ``SOURCE_DATE_EPOCH`` is the last commit's time (``git log -1 --format=%ct``) unless already
  set; setuptools' bdist_wheel stamps every zip entry with it and writes entries sorted.
- The build runs without isolation, with the setuptools of the running venv (the hashed
  ``lock/dev.txt``), so no resolver picks a newer backend between two builds.
- The sdist is built from a copy of the tree holding only the files git tracks (plus untracked,
  unignored ones), so ``build/``, ``dist/`` and stale ``*.egg-info`` never leak in, and its
  tar.gz is rewritten with sorted members, one mtime, owner 0/0 with no names, normalised modes
  and a gzip header without a time or file name (setuptools' sdist keeps the files' own).
- The wheel is built from that sdist, as ``python -m build`` does: what ships in the sdist is
  enough to build the wheel.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: When the tree is no git checkout (an unpacked sdist): the zip format's earliest time.
FALLBACK_EPOCH = 315532800


def source_date_epoch() -> int:
    """``$SOURCE_DATE_EPOCH``, else the last commit's time, else 1980-01-01."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return FALLBACK_EPOCH
    return int(out) if out else FALLBACK_EPOCH


def tracked_files() -> list[str]:
    """Files git would ship: tracked plus untracked-but-not-ignored, that exist."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            str(p.relative_to(REPO))
            for p in REPO.rglob("*")
            if p.is_file() and not {"build", "dist", ".venv", ".git"} & set(p.parts)
        ]
    names = [n for n in out.decode().split("\0") if n]
    return sorted(n for n in names if (REPO / n).is_file() and not (REPO / n).is_symlink())


def snapshot(dest: Path) -> None:
    """Copy the shippable files of the tree into ``dest``."""
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)


def normalise_sdist(path: Path, epoch: int) -> None:
    """Rewrite ``path`` (a .tar.gz) so that only its members' names and bytes decide its bytes."""
    with tarfile.open(path, "r:gz") as source:
        members = []
        for member in source:
            handle = source.extractfile(member) if member.isfile() else None
            members.append((member, handle.read() if handle else None))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member, data in sorted(members, key=lambda item: item[0].name):
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.pax_headers = {}
            if member.isdir():
                member.mode = 0o755
            else:
                member.mode = 0o755 if member.mode & 0o100 else 0o644
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    with (
        path.open("wb") as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(raw.getvalue())


def build(outdir: Path) -> list[Path]:
    """Build the sdist, then the wheel from it, into ``outdir``; return both paths."""
    epoch = source_date_epoch()
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0"}
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob("venv_reconciler-*.whl"), *outdir.glob("venv_reconciler-*.tar.gz")]:
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="reconciler-dist-") as tmp:
        tree, staging = Path(tmp) / "tree", Path(tmp) / "out"
        snapshot(tree)
        python = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(staging)]
        subprocess.run([*python, "--sdist", str(tree)], env=env, check=True, cwd=tmp)
        (sdist,) = staging.glob("*.tar.gz")
        normalise_sdist(sdist, epoch)
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(sdist, "r:gz") as archive:
            archive.extractall(unpacked, filter="data")
        (root,) = unpacked.iterdir()
        subprocess.run([*python, "--wheel", str(root)], env=env, check=True, cwd=tmp)
        built = []
        for artifact in sorted(staging.iterdir()):
            shutil.copyfile(artifact, outdir / artifact.name)
            built.append(outdir / artifact.name)
    return built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=REPO / "dist")
    args = parser.parse_args()
    for path in build(args.outdir.resolve()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
