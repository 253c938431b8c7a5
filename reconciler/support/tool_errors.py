"""The one pip and the one uv error explainer: one line that keeps the cause, from the output
of a failed pip, pip-compile or uv run.

- uv: the ``error:`` line plus the last ``Caused by:`` / ``cause:`` of its chain (a git ``fatal:``
  line when the cause is a failed git command), with the expected and computed hashes of a
  hash mismatch;
- pip: a hash mismatch names the package, the file and both hashes; a failed build names what
  failed and, when it was the build backend, the backend requirement that was not found;
- never an internal class name (``pip._internal.exceptions.FailedToPrepareCandidate: ...`` keeps
  only its message); credentials are redacted.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from reconciler.support.names import ARCHIVE_SUFFIXES
from reconciler.support.paths import cache_dir
from reconciler.support.redact import redact

_CLASS_PREFIX = re.compile(r"^(?:[a-z_][\w]*\.)+[A-Z]\w*(?:Error|Exception|Candidate|\w*):\s*")
_CAUSE = re.compile(r"^\s*(?:Caused by:|cause:|╰─▶)\s*(?P<text>.*)$")
_HEAD = re.compile(r"^\s*(?:error:|\u00d7)\s*(?P<text>.*)$")  # x: uv's fancy renderer
_PIP_MISMATCH = re.compile(
    r"^\s*(?P<req>\S+==\S+) from (?P<url>\S+).*?:\s*\n\s*Expected sha256 (?P<expected>[0-9a-f]+)"
    r"(?:\s*\n\s*or\s+[0-9a-f]+)*\s*\n\s*Got\s+(?P<got>[0-9a-f]+)",
    re.MULTILINE,
)
_UV_HASHES = re.compile(
    r"Expected:\s*\n\s*(?P<expected>sha256:[0-9a-f]+).*?Computed:\s*\n\s*(?P<got>sha256:[0-9a-f]+)",
    re.DOTALL,
)
_NOT_FOUND = re.compile(r"No matching distribution found for (?P<req>\S+)")
_FATAL = re.compile(r"^\s*fatal:\s*(?P<text>.*)$", re.MULTILINE)


def strip_class(text: str) -> str:
    """``pip._internal.exceptions.X: message`` -> ``message``."""
    return _CLASS_PREFIX.sub("", text.strip())


def explain(output: str) -> str:
    """The most telling line of a failed pip / pip-compile / uv run (credentials redacted).

    When a build backend raised, its own exception line (``AttributeError: ...``) ends the line.
    """
    return redact(with_backend_error(_explain(output), output))


_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION = re.compile(r"(?P<cls>[A-Za-z_][\w.]{0,200}?)(?::\s(?P<text>.*))?")


# A traceback of the installer itself (pip-compile crashing on pip's own exception after a
# failed build) is not the build backend's error: its line would only repeat pip's message.
_TOOL_MODULES = ("pip.", "pip._", "piptools.", "click.")


def backend_exception(output: str) -> str | None:
    """The exception line ending the last build backend's Python traceback in ``output``.

    The line is the first one after the traceback at the traceback header's own indentation
    (uv and pip indent a backend's stderr as a block), e.g. ``AttributeError: 'build_ext'
    object has no attribute 'cython_sources'``. Tracebacks of pip or pip-tools themselves
    are passed over.
    """
    lines = output.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if _TRACEBACK in lines[start]:
            raised = _exception_line(lines, start)
            if raised is not None and not raised.startswith(_TOOL_MODULES):
                return raised
    return None


def _exception_line(lines: list[str], start: int) -> str | None:
    header = lines[start]
    indent = len(header) - len(header.lstrip(" \t"))
    prefix = header[:indent]
    for line in lines[start + 1 :]:
        body = line.removeprefix(prefix) if line.startswith(prefix) else None
        if body is None or not body.strip():
            continue
        if body[:1] in (" ", "\t"):
            continue  # a frame (``File ...``) or its source line
        match = _EXCEPTION.fullmatch(body.strip())
        if match and match.group("cls")[-1:].isalnum():
            return body.strip()
        return None
    return None


_BUILD_FAILED = re.compile(
    r"Failed to build|build backend|subprocess-exited-with-error|metadata-generation-failed"
    r"|Call to `|Getting requirements to build|Preparing metadata"
)


def build_failed(output: str) -> bool:
    """Whether ``output`` tells of a failed package build (not a resolver's own failure)."""
    return _BUILD_FAILED.search(output) is not None


def with_backend_error(line: str, output: str) -> str:
    """``line``, ending with the build backend's exception line when a build raised."""
    raised = backend_exception(output) if build_failed(output) else None
    if raised is None or raised in line:
        return line
    return f"{line}: {raised}"


def keep_log(output: str, label: str) -> Path | None:
    """Keep the complete ``output`` of a failed tool call (credentials redacted) in a log file.

    Under reconciler's cache directory (:func:`~reconciler.support.paths.cache_dir`),
    ``logs/<time>-<label>-<hex>.log``, readable by the user only. None when it cannot be written.
    """
    base = cache_dir()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label)[:60] or "tool"
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = base / "logs" / f"{stamp}-{safe}-{os.urandom(3).hex()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(redact(output))
    except OSError:
        return None
    return path


def failure_cause(explained: str, output: str, label: str) -> str:
    """``explained`` plus, for a failed build, the backend's exception line and where the whole
    output was kept (a build's cause is often pages above the last line)."""
    if not build_failed(output):
        return explained
    line = with_backend_error(explained, output)
    kept = keep_log(output, label)
    return line if kept is None else f"{line} (complete output: {kept})"


def _explain(output: str) -> str:
    if any(line.startswith("error:") for line in output.splitlines()):
        return _explain_uv(output)
    return _explain_pip(output)


def explain_uv(output: str) -> str:
    """uv's error chain as one line: its head and the last cause (continuations joined; the
    URL that failed kept; a git ``fatal:`` and a hash mismatch's hashes added)."""
    return redact(_explain_uv(output))


def _explain_uv(output: str) -> str:
    head: str | None = None
    causes: list[list[str]] = []
    ended = False  # a blank line ends the chain; what follows is detail (hashes, output)
    for raw in output.splitlines():
        line = raw.strip()
        if not line:
            ended = ended or head is not None or bool(causes)
            continue
        if line.startswith(("hint:", "help:")):
            break  # advice after the chain, not its cause
        if line.startswith("warning:") or ended:
            continue
        if (match := _CAUSE.match(raw)) is not None:
            causes.append([match.group("text").strip()])
        elif head is None and (match := _HEAD.match(raw)) is not None:
            head = match.group("text").strip()
        elif causes:
            causes[-1].append(line)  # a cause's continuation line
        elif head is not None:
            head = f"{head} {line}"
    chain = [" ".join(c) for c in causes if c]
    fatal = _FATAL.search(output)
    if fatal:
        chain.append(f"git: {fatal.group('text').strip()}")
    if head is None and not chain:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        return lines[-1] if lines else "uv pip compile failed with no output"
    parts = [p for p in (head, *chain[-1:]) if p]
    if len(chain) > 1 and "://" in chain[0] and "://" not in parts[-1]:
        parts.insert(1, chain[0])  # keep the URL that failed, not only the socket error
    hashes = _UV_HASHES.search(output)
    if hashes:
        parts[-1] += f" (expected {hashes.group('expected')}, computed {hashes.group('got')})"
    return ": ".join(p.rstrip(":") for p in parts)


def explain_pip(output: str) -> str:
    """pip's (or pip-compile's) failure as one line: a resolution conflict, the line that says
    what could not be found, a hash mismatch, a failed build, a git error, else its last error."""
    return redact(_explain_pip(output))


def _explain_pip(output: str) -> str:
    conflict = _conflict(output)
    if conflict is not None:
        return conflict
    python = _REQUIRES_PYTHON.search(output)
    if python is not None:  # pip-compile's only cause: the candidate's Requires-Python
        parent = python.group("parent")
        what = parent.split("#", 1)[0] if "+" in parent.split(":", 1)[0] else _artifact(parent)
        return f"{what} requires Python {python.group('spec')} (not the plugin's interpreter)"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not any("Failed to build" in line or "fatal:" in line for line in lines):
        for pattern in _INTERESTING:
            for line in lines:
                match = pattern.search(line)
                if match:
                    return match.group(0)
    mismatch = _PIP_MISMATCH.search(output)
    if mismatch:
        return (
            f"hash mismatch for {mismatch.group('req')} from {mismatch.group('url')}: "
            f"expected sha256 {mismatch.group('expected')}, got {mismatch.group('got')}"
        )
    build = _pip_build_failure(lines, output)
    if build is not None:
        return build
    fatal = _FATAL.search(output)
    return f"git: {fatal.group('text').strip()}" if fatal else _last_line(lines)


def _last_line(lines: list[str]) -> str:
    for line in reversed(lines):
        if line.startswith(("ERROR:", "error:")):
            return strip_class(line.split(":", 1)[1])
    for line in reversed(lines):
        if _CLASS_PREFIX.match(line):
            return strip_class(line)
    return strip_class(lines[-1]) if lines else "failed with no output"


def _pip_build_failure(lines: list[str], output: str) -> str | None:
    """pip's "Failed to build X when installing build dependencies" with the missing backend."""
    failed = next(
        (strip_class(line.split(":", 1)[1] if line.startswith("ERROR:") else line)
         for line in reversed(lines) if "Failed to build" in line),
        None,
    )  # fmt: skip
    if failed is None:
        return None
    failed = re.sub(r" when git clone .*$", " (git clone failed)", failed)
    missing = _NOT_FOUND.search(output)
    if "build dependencies" in failed and missing:
        return (
            f"{failed}: the build backend requirement {missing.group('req')} was not found "
            "in the package locations"
        )
    fatal = _FATAL.search(output)
    if fatal:
        return f"{failed}: git: {fatal.group('text').strip()}"
    return failed


_INTERESTING = (
    re.compile(r"Could not find a version that matches .*"),
    re.compile(r"No matching distribution found for .*"),
    re.compile(r"Cannot install .* because these package versions have conflicting dependencies.*"),
    re.compile(r"ResolutionImpossible.*"),
)


_REQUIRES_PYTHON = re.compile(
    r"RequirementInformation\(requirement=RequiresPythonRequirement\('(?P<spec>[^']*)'\), "
    r"parent=\w+\('(?P<parent>[^']*)'\)"
)
_CONFLICT_PART = re.compile(
    r"RequirementInformation\(requirement=\w+\('(?P<req>[^']*)'\), "
    r"parent=(?:None|\w+\('(?P<parent>[^']*)'\))"
)


def _artifact(parent: str) -> str:
    """``tap_x-1.0`` from a candidate's text, e.g. ``https://h/tap_x-1.0-py3-none-any.whl#sha256=...
    (from https://h/simple/) (requires-python:>=3.10)``."""
    link = parent.split(maxsplit=1)[0] if parent.split() else parent
    artifact = link.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    suffix = next((s for s in ARCHIVE_SUFFIXES if artifact.endswith(s)), None)
    if suffix is not None:
        artifact = re.sub(r"-(?:py|cp)\d.*$", "", artifact.removesuffix(suffix))
    return artifact or "?"


def _conflict(stderr: str) -> str | None:
    """``demo-common<1.1 (requested) conflicts with demo-common>=1.1 (from tap_alpha-1.1.0)``."""
    parts = []
    for match in _CONFLICT_PART.finditer(stderr):
        parent = match.group("parent")
        if parent is None:
            parts.append(f"{match.group('req')} (requested)")
        else:
            parts.append(f"{match.group('req')} (from {_artifact(parent)})")
    if len(parts) < 2:
        return None
    return "conflicting requirements: " + " vs ".join(dict.fromkeys(parts))
