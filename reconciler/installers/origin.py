"""A source installed from its prebuilt wheel is recorded as installed from that source.

``reconciler fetch`` builds a wheel of each locked VCS commit and non-editable local project;
apply installs that wheel (hash-checked) instead of cloning or building, then rewrites the
distribution's PEP 610 ``direct_url.json`` to what pip writes when it installs the source itself
(the VCS URL and commit, or the project directory) and updates its ``RECORD`` line. ``plan``,
``status`` and ``--verify`` then see the venv as the lock describes it, so the next plan is a
no-op. pip does the same when it installs a VCS requirement from a wheel it built and cached.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from reconciler.errors import ExecuteError
from reconciler.models import LockedPackage
from reconciler.support import venvcfg
from reconciler.support.files import write_atomic
from reconciler.support.names import canonical_name


def direct_url_data(package: LockedPackage, project_dir: Path) -> dict[str, object]:
    """The PEP 610 ``direct_url.json`` pip writes when it installs ``package``'s source."""
    url = package.source_url(project_dir) or ""
    if package.kind != "vcs" or package.url is None:
        return {"url": url, "dir_info": {}}
    vcs, _, rest = package.url.partition("+")
    parts = urlsplit(rest)
    info: dict[str, object] = {"vcs": vcs, "commit_id": package.commit}
    if "@" in parts.path:
        info["requested_revision"] = parts.path.rpartition("@")[2]
    data: dict[str, object] = {"url": url, "vcs_info": info}
    subdirectory = parse_qs(parts.fragment).get("subdirectory")
    if subdirectory:
        data["subdirectory"] = subdirectory[0]
    return data


def record_origins(venv: Path, packages: Sequence[LockedPackage], project_dir: Path) -> None:
    """For each of ``packages`` installed from its prebuilt wheel, write the source it was built
    from into its ``direct_url.json`` (a new file: never an inode shared with uv's cache) and
    the file's new hash and size into ``RECORD``."""
    built = [p for p in packages if p.prebuilt is not None]
    if not built:
        return
    root = Path(os.path.realpath(venv))
    version = venvcfg.python_version(venvcfg.read(root)) or ""
    major_minor = ".".join(version.split(".")[:2])
    candidates = [root / "lib" / f"python{major_minor}" / "site-packages"] if major_minor else []
    candidates += sorted((root / "lib").glob("python3*/site-packages"))
    site = next((c for c in candidates if c.is_dir()), None)
    if site is None:
        raise ExecuteError(f"no site-packages in {venv} after install")
    by_name: dict[str, str] = {}
    for entry in os.listdir(site):
        if entry.endswith(".dist-info"):
            by_name[canonical_name(entry[: -len(".dist-info")].rpartition("-")[0])] = entry
    for package in built:
        found = by_name.get(package.name)
        if found is None:
            raise ExecuteError(f"{package.name} was installed from its wheel but has no dist-info")
        _rewrite(site / found, direct_url_data(package, project_dir))


def _rewrite(dist_info: Path, data: dict[str, object]) -> None:
    payload = (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")
    write_atomic(dist_info / "direct_url.json", payload, follow_symlinks=False, durable=False)
    record = dist_info / "RECORD"
    if not record.is_file() or record.is_symlink():
        return  # nothing lists the file: nothing to keep in step
    import base64  # noqa: PLC0415 - start-up: only sources installed from prebuilt wheels
    import csv  # noqa: PLC0415 - likewise
    import hashlib  # noqa: PLC0415 - likewise

    member = f"{dist_info.name}/direct_url.json"
    digest = base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=").decode()
    row = [member, f"sha256={digest}", str(len(payload))]
    rows = [r for r in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))) if r]
    rows = [row if r[0] == member else r for r in rows]
    if row not in rows:
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    write_atomic(record, out.getvalue(), follow_symlinks=False, durable=False)
