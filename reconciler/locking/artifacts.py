"""Where each locked pin's files are: what a PEP 751 lock records beside the hashes.

Both resolvers write pip requirements (pins and hashes); the pylock writer turns that into
``pylock.<name>.toml`` with the files behind each hash, found here from the plugin's own index
settings: a find-links directory is listed and its matching files hashed (a path and a size);
an index (and a find-links URL) is read through the simple API, JSON (PEP 691/700: URL, size,
hashes) preferred, HTML (PEP 503: URL and ``#sha256=`` fragment) accepted. Every hash of a pin
must be found, or locking fails naming it: a pylock lock never holds a hash without a location.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from reconciler.errors import LockError
from reconciler.installers.pipconfig import resolve_link
from reconciler.lockformats.base import ArtifactFile, LockContent
from reconciler.models import (
    DesiredState,
    IndexOptions,
    InputsDigest,
    Lock,
    LockedPackage,
    Plugin,
)
from reconciler.support.digest import file_sha256
from reconciler.support.names import archive_name_version, canonical_name
from reconciler.support.redact import redact, strip_credentials
from reconciler.support.values import evolve

_TIMEOUT = 30.0
_JSON = "application/vnd.pypi.simple.v1+json"


def identify(filename: str) -> tuple[str, str] | None:
    """``(canonical name, canonical version)`` of a wheel or sdist file name, else None."""
    found = archive_name_version(filename)
    if found is None:
        return None
    from packaging.utils import canonicalize_version  # noqa: PLC0415 - start-up: pylock only

    return canonical_name(found[0]), canonicalize_version(found[1])


class Finder:
    """Finds the files of locked pins for one plugin's index settings (cached per page/dir)."""

    def __init__(self, plugin: str, index: IndexOptions, project_dir: Path) -> None:
        self.plugin = plugin
        self.dirs: list[Path] = []
        self.pages: list[str] = []  # find-links URLs: one page listing files
        self.indexes: list[str] = []  # simple indexes: one page per project
        for link in index.find_links:
            if "://" in link and not link.startswith("file:"):
                self.pages.append(link)
            else:
                local = unquote(urlsplit(link).path) if link.startswith("file:") else link
                self.dirs.append(Path(resolve_link(local, project_dir)))
        if not index.no_index:
            self.indexes.append(index.index_url or "https://pypi.org/simple")
            self.indexes.extend(index.extra_index_urls)
        self._listing: dict[Path, list[Path]] = {}
        self._pages: dict[str, list[ArtifactFile]] = {}

    def __call__(self, package: LockedPackage) -> Sequence[ArtifactFile]:
        """Every file whose sha256 the pin lists; LockError naming the first one not found."""
        wanted = {h.removeprefix("sha256:") for h in package.hashes if h.startswith("sha256:")}
        found: dict[str, ArtifactFile] = {}
        from packaging.utils import canonicalize_version  # noqa: PLC0415 - start-up: pylock only

        version = canonicalize_version(package.version)
        for candidate in self._local(package.name, version):
            found.setdefault(candidate.sha256, candidate)
        if not wanted <= set(found):
            for page in self.pages:
                for candidate in self._page(page):
                    found.setdefault(candidate.sha256, candidate)
        if not wanted <= set(found):
            for base in self.indexes:
                url = base.rstrip("/") + f"/{package.name}/"
                for candidate in self._page(url):
                    found.setdefault(candidate.sha256, candidate)
        missing = sorted(wanted - set(found))
        if missing:
            where = ", ".join(redact(str(s)) for s in [*self.dirs, *self.pages, *self.indexes])
            raise LockError(
                f"{package.name}=={package.version}: no file with "
                f"hash sha256:{missing[0]} in {where or 'no index'} "
                "(a pylock lock needs the location of every hash)",
                plugin=self.plugin,
            )
        chosen = [found[h] for h in sorted(wanted, key=lambda h: found[h].filename)]
        return tuple(_sized(f) for f in chosen)

    def _local(self, name: str, version: str) -> list[ArtifactFile]:
        files: list[ArtifactFile] = []
        for directory in self.dirs:
            if directory not in self._listing:
                try:
                    self._listing[directory] = sorted(p for p in directory.iterdir() if p.is_file())
                except OSError:
                    self._listing[directory] = []
            for path in self._listing[directory]:
                if identify(path.name) != (name, version):
                    continue
                files.append(
                    ArtifactFile(
                        path.name, file_sha256(path), path.stat().st_size, path=path.absolute()
                    )
                )
        return files

    def _page(self, url: str) -> list[ArtifactFile]:
        if url not in self._pages:
            self._pages[url] = _read_page(self.plugin, url)
        return self._pages[url]


def _read_page(plugin: str, url: str) -> list[ArtifactFile]:
    """The files a simple-API page (or a find-links page) lists with a sha256."""
    parts = urlsplit(url)
    headers = {"Accept": f"{_JSON}, text/html;q=0.1"}
    if parts.username is not None:
        user = unquote(parts.username)
        password = unquote(parts.password or "")
        from base64 import b64encode  # noqa: PLC0415 - start-up: only an index with credentials

        headers["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode()).decode()
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc += f":{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    import urllib.request  # noqa: PLC0415 - start-up: http, ssl, email; only an index is read

    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) index URLs
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
            kind = response.headers.get_content_type()
            final = response.geturl()
            body = response.read()
    except OSError as exc:
        if getattr(exc, "code", None) == 404:
            return []
        raise LockError(redact(f"cannot read {url}: {exc}"), plugin=plugin) from exc
    if kind == _JSON:
        return _from_json(final, body)
    return _from_html(final, body.decode("utf-8", "replace"))


def _sized(artifact: ArtifactFile) -> ArtifactFile:
    """``artifact`` with its size from a ``HEAD`` request when the index did not give one (a
    PEP 503 HTML page has none); unchanged when the server does not say."""
    if artifact.size is not None or artifact.url is None:
        return artifact
    if not artifact.url.startswith(("http://", "https://")):
        return artifact
    import urllib.request  # noqa: PLC0415 - start-up: as in _read_page

    request = urllib.request.Request(artifact.url, method="HEAD")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
            length = response.headers.get("Content-Length")
    except OSError:
        return artifact
    if length is None or not length.isdigit():
        return artifact
    return evolve(artifact, size=int(length))


def _from_json(base: str, body: bytes) -> list[ArtifactFile]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    files: list[ArtifactFile] = []
    for item in data.get("files", []) if isinstance(data, dict) else []:
        if not isinstance(item, dict):
            continue
        sha = (item.get("hashes") or {}).get("sha256")
        filename, href = item.get("filename"), item.get("url")
        if not (isinstance(sha, str) and isinstance(filename, str) and isinstance(href, str)):
            continue
        size = item.get("size")
        url = strip_credentials(urljoin(base, href)).split("#", 1)[0]
        files.append(ArtifactFile(filename, sha, size if isinstance(size, int) else None, url))
    return files


def _hrefs(text: str) -> list[str]:
    """The ``href`` of every anchor of an HTML page."""
    from html.parser import HTMLParser  # noqa: PLC0415 - start-up: only a PEP 503 page is parsed

    class Anchors(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hrefs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                href = dict(attrs).get("href")
                if href:
                    self.hrefs.append(href)

    parser = Anchors()
    parser.feed(text)
    return parser.hrefs


def _from_html(base: str, text: str) -> list[ArtifactFile]:
    files: list[ArtifactFile] = []
    for href in _hrefs(text):
        url, _, fragment = urljoin(base, href).partition("#")
        match = re.fullmatch(r"sha256=([0-9a-f]{64})", fragment)
        if match is None:
            continue
        filename = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
        files.append(ArtifactFile(filename, match.group(1), None, strip_credentials(url)))
    return files


__all__ = ["Finder", "identify"]


def lock_content(
    desired: DesiredState, plugin: Plugin, inputs: InputsDigest, text: str, lock: Lock, path: Path
) -> LockContent:
    """What a lock format writes for ``plugin``: its pins (``text``, parsed as ``lock``), their
    inputs digest, and a finder of artifact locations on the plugin's index."""
    index, project_dir = desired.index_for(plugin), desired.project_dir
    finder = Finder(plugin.name, index, project_dir)
    return LockContent(plugin, inputs, text, lock, path, project_dir, index, finder)
