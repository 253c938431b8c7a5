"""``reconciler audit``: the real pip-audit (build/pip-audit, from lock/pip-audit.txt) over each
plugin's lock, offline: its OSV service is pointed at a small vulnerability source served on
127.0.0.1 by the test itself."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import REPO, Project

AUDITOR = REPO / "build" / "pip-audit" / "bin" / "pip-audit"
VULN = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001"],
    "summary": "demo-common 1.0.0 greets the wrong person",
    "affected": [
        {
            "package": {"name": "demo-common", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.0"}]}],
        }
    ],
}


class OsvHandler(BaseHTTPRequestHandler):
    """A tiny OSV ``/v1/query`` endpoint: demo-common 1.0.0 is vulnerable, nothing else."""

    queries: ClassVar[list[tuple[str, str]]] = []
    fail: ClassVar[bool] = False

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        package = (query["package"]["name"], query["version"])
        type(self).queries.append(package)
        if type(self).fail:
            self.send_error(500, "vulnerability database down")
            return
        body = json.dumps({"vulns": [VULN]} if package == ("demo-common", "1.0.0") else {})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def osv() -> Iterator[str]:
    """The URL of the local OSV endpoint (queries recorded on :class:`OsvHandler`)."""
    OsvHandler.queries = []
    OsvHandler.fail = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), OsvHandler)
    # polled every 0.05 s (not 0.5): shutdown() waits for the next poll, at every teardown
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def audit(project: Project, url: str, *args: str) -> Any:
    assert AUDITOR.is_file(), "build/pip-audit missing: run `make pip-audit` (make test does)"
    return project.run(
        "audit", "--auditor", str(AUDITOR), "--service", "osv", "--osv-url", url, *args
    )


def test_audit_finds_the_vulnerable_pin_and_installs_nothing(project: Project, osv: str) -> None:
    before = sorted(p.name for p in project.root.iterdir())
    result = audit(project, osv)
    assert result.code == 2, result.describe()
    lines = result.out.splitlines()
    assert any(
        "target-gamma" in line
        and "demo-common 1.0.0: PYSEC-2099-1 (CVE-2099-0001), fixed in 1.1.0" in line
        for line in lines
    ), result.out
    assert any(
        "tap-alpha" in line and "no known vulnerabilities (2 packages)" in line for line in lines
    )
    assert lines[-1] == "Audit: 1 known vulnerability in 1 of 3 plugins (7 packages audited)."
    # every locked pin was looked up, nothing else; nothing was built or installed
    assert sorted(set(OsvHandler.queries)) == [
        ("demo-common", "1.0.0"),
        ("demo-common", "1.1.0"),
        ("demo-extra", "2.0.0"),
        ("tap-alpha", "1.0.0"),
        ("tap-beta", "1.0.0"),
        ("target-gamma", "1.0.0"),
    ]
    assert sorted(p.name for p in project.root.iterdir()) == before


def test_audit_json_and_clean_selection(project: Project, osv: str) -> None:
    clean = audit(project, osv, "tap-alpha", "tap-beta")
    assert clean.code == 0, clean.describe()
    assert "Audit: 0 known vulnerabilities in 0 of 2 plugins (5 packages audited)." in clean.out
    found = audit(project, osv, "--json", "target-gamma")
    assert found.code == 2, found.describe()
    data = json.loads(found.out)
    assert data["plugins"] == [
        {
            "plugin": "target-gamma",
            "audited": 2,
            "findings": [
                {
                    "package": "demo-common",
                    "version": "1.0.0",
                    "id": "PYSEC-2099-1",
                    "aliases": ["CVE-2099-0001"],
                    "fix_versions": ["1.1.0"],
                    "description": "demo-common 1.0.0 greets the wrong person",
                }
            ],
            "not_audited": [],
            "error": None,
        }
    ]


def test_audit_service_failure_is_exit_1(project: Project, osv: str) -> None:
    OsvHandler.fail = True
    result = audit(project, osv, "tap-alpha")
    assert result.code == 1, result.describe()
    assert result.err_lines
    assert all(line.startswith("error: ") for line in result.err_lines)
    assert "tap-alpha" in result.err_lines[0]
    assert "Traceback" not in result.err


def test_audit_finds_the_auditor_through_the_environment(project: Project, osv: str) -> None:
    result = project.run(
        "audit",
        "--service",
        "osv",
        "--osv-url",
        osv,
        "target-gamma",
        env={"RECONCILER_PIP_AUDIT": str(AUDITOR)},
    )
    assert result.code == 2, result.describe()


def test_audit_without_an_auditor_is_one_error_line(project: Project, tmp_path: Path) -> None:
    result = project.run("audit", env={"PATH": str(tmp_path), "RECONCILER_PIP_AUDIT": ""})
    assert result.code == 1, result.describe()
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("error: cannot audit: pip-audit is not on PATH")
    missing = project.run("audit", "--auditor", str(tmp_path / "nope"))
    assert missing.code == 1
    assert "is not an executable" in missing.err_lines[0]


def test_audit_refuses_a_missing_lock(project: Project, osv: str) -> None:
    project.lock("tap-beta").unlink()
    result = audit(project, osv)
    assert result.code == 1, result.describe()
    assert any("tap-beta" in line and "no lock" in line for line in result.err_lines)
    assert OsvHandler.queries == []  # nothing audited when a lock is missing
