"""Download stage: fetch the raw files listed in ``manifest.yaml`` and verify their sha256.

For each file the sources are tried in order: the mirror (argument ``mirror`` or the environment
variable ``MOMENTUM_REPRO_MIRROR``: a local folder, a ``file://`` URL or an ``http(s)://`` base,
looked up as ``<mirror>/<name>`` and ``<mirror>/<mirror_subdir>/<name>``: a folder with the raw
files, or with ``mnist/`` and ``olivetti/`` holding them), then the manifest's upstream URLs in order of preference.

An HTTP transfer streams into ``<name>.part`` (progress bar on a terminal, none under CI), resumes
with a ``Range`` header after a dropped connection, retries timeouts, connection errors and 5xx
answers with exponential backoff, and moves on to the next URL on 404. Only a file whose digest
matches is renamed to its final name; one that fails is moved aside to ``<name>.bad`` and never
used. Files without a published digest (James Martens' prepared files)
are pinned by their first verified download in ``pins.json`` next to the raw data; later downloads
must match the pin. For gzip files the digest is that of the decompressed content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import time
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

import requests
import urllib3
import yaml
from tqdm import tqdm

from momentum_repro.data.matfile import MatFileError, mat_variables

log = logging.getLogger(__name__)

MIRROR_ENV = "MOMENTUM_REPRO_MIRROR"
MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")
PINS_FILENAME = "pins.json"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ManifestEntry:
    """One raw file: where to get it and how to recognise it (see ``manifest.yaml``)."""

    name: str
    urls: tuple[str, ...]
    sha256: tuple[str, ...] = ()  # accepted digests; empty: pinned by the first download
    gzip: bool = False  # digest of the decompressed content
    mirror_subdir: str | None = None
    optional: bool = False
    keys: tuple[str, ...] = ()  # variables a .mat file must hold
    description: str = ""

    def mirror_paths(self) -> tuple[str, ...]:
        """Relative paths under which a mirror may hold this file."""
        if self.mirror_subdir:
            return (self.name, f"{self.mirror_subdir}/{self.name}")
        return (self.name,)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one URL before moving on to the next."""

    attempts: int = 4  # tries per URL for timeouts, connection errors and 5xx
    backoff_s: float = 1.0  # sleep before try k+1: backoff_s * 2**(k-1)
    timeout_s: float = 30.0  # connect and read timeout of one request


class DownloadError(RuntimeError):
    """A raw file (or several) could not be obtained from any source."""

    def __init__(self, message: str, tried: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.tried = list(tried)


class ChecksumError(DownloadError):
    """A downloaded file did not match its expected sha256; it was moved aside, never used."""

    def __init__(
        self,
        message: str,
        *,
        name: str,
        expected: str,
        actual: str,
        bad_path: Path,
        tried: Iterable[str] = (),
    ) -> None:
        super().__init__(message, tried)
        self.name = name
        self.expected = expected
        self.actual = actual
        self.bad_path = bad_path


@dataclass
class FetchReport:
    """Outcome of ``fetch_all``: the files obtained and the optional files that were not."""

    fetched: dict[str, Path] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)  # of the verified (decompressed) content
    unavailable: dict[str, str] = field(default_factory=dict)  # name -> why

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary (file names, digests and reasons; no absolute paths)."""
        return {
            "fetched": {name: self.sha256[name] for name in sorted(self.fetched)},
            "unavailable": dict(sorted(self.unavailable.items())),
        }


def load_manifest(path: str | Path = MANIFEST_PATH) -> dict[str, ManifestEntry]:
    """Read the manifest into ``{name: ManifestEntry}``, in file order."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'files' mapping at the top")
    known = {"urls", "sha256", "gzip", "mirror_subdir", "optional", "keys", "description"}
    entries = {}
    for name, spec in raw["files"].items():
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"{path}: {name}: unknown field(s) {sorted(unknown)}; allowed {known}")
        digests = spec.get("sha256") or []
        for d in digests:
            if len(d) != 64 or any(c not in "0123456789abcdef" for c in d):
                raise ValueError(f"{path}: {name}: {d!r} is not a lowercase hex sha256")
        entries[name] = ManifestEntry(
            name=name,
            urls=tuple(spec.get("urls") or ()),
            sha256=tuple(digests),
            gzip=bool(spec.get("gzip", False)),
            mirror_subdir=spec.get("mirror_subdir"),
            optional=bool(spec.get("optional", False)),
            keys=tuple(spec.get("keys") or ()),
            description=spec.get("description", ""),
        )
    return entries


def file_sha256(path: str | Path, decompress: bool = False) -> str:
    """sha256 of a file, or of its gzip-decompressed content (a message in <> if not gzip)."""
    digest = hashlib.sha256()
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as err:
        if not decompress or not Path(path).is_file():
            raise
        return f"<not a valid gzip file: {err}>"
    return digest.hexdigest()


def mirror_base(mirror: str | os.PathLike[str] | None = None) -> str | None:
    """The mirror as a URL base (``file://...`` or ``http(s)://...``), from the argument or env."""
    value = os.fspath(mirror) if mirror is not None else os.environ.get(MIRROR_ENV, "")
    if not value:
        return None
    scheme = urlparse(value).scheme if "://" in value else ""
    if scheme in ("http", "https", "file"):
        return value.rstrip("/")
    if scheme:
        raise DownloadError(f"mirror {value!r}: scheme {scheme!r} not supported; use file, http(s)")
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        log.warning("Mirror %s (%s) is not a folder; its files will be missing", value, folder)
    return folder.as_uri()


def fetch(
    entry: ManifestEntry,
    dest_dir: str | Path,
    mirror: str | os.PathLike[str] | None = None,
    *,
    pins_path: str | Path | None = None,
    retry: RetryPolicy | None = None,
) -> Path:
    """Obtain one file into ``dest_dir`` (verified) and return its path; raise DownloadError."""
    fetcher = _Fetcher(Path(dest_dir), mirror_base(mirror), pins_path, retry or RetryPolicy())
    return fetcher.fetch(entry)[0]


def fetch_all(
    names: Iterable[str | ManifestEntry] | None,
    dest_dir: str | Path,
    mirror: str | os.PathLike[str] | None = None,
    *,
    required: Collection[str] | None = None,
    manifest: Mapping[str, ManifestEntry] | None = None,
    pins_path: str | Path | None = None,
    retry: RetryPolicy | None = None,
) -> FetchReport:
    """Obtain several files; optional ones that fail are recorded in ``FetchReport.unavailable``.

    ``names``: manifest names or entries (None: every manifest entry). ``required``: the names
    that must be obtained (None: the entries not marked ``optional``). All files are tried before
    one DownloadError lists every required file that is missing, where it was looked for, and how
    to set a mirror.
    """
    entries = _resolve(names, manifest)
    must_have = {e.name for e in entries if not e.optional} if required is None else set(required)
    base = mirror_base(mirror)
    fetcher = _Fetcher(Path(dest_dir), base, pins_path, retry or RetryPolicy())
    report = FetchReport()
    missing: dict[str, DownloadError] = {}
    for entry in entries:
        try:
            report.fetched[entry.name], report.sha256[entry.name] = fetcher.fetch(entry)
        except DownloadError as err:
            if entry.name in must_have:
                missing[entry.name] = err
            else:
                report.unavailable[entry.name] = _summary(err)
                log.warning("Optional file %s is unavailable: %s", entry.name, _summary(err))
    if missing:
        raise DownloadError(_missing_message(missing, Path(dest_dir), base))
    return report


# --- internals ------------------------------------------------------------------------------


def _resolve(
    names: Iterable[str | ManifestEntry] | None, manifest: Mapping[str, ManifestEntry] | None
) -> list[ManifestEntry]:
    """Entries for ``names`` (None: the whole manifest); the manifest is read only if needed."""
    items = None if names is None else list(names)
    if items is not None and all(isinstance(item, ManifestEntry) for item in items):
        return items  # type: ignore[return-value]
    known = load_manifest() if manifest is None else manifest
    if items is None:
        return list(known.values())
    entries = []
    for item in items:
        if isinstance(item, ManifestEntry):
            entries.append(item)
        elif item in known:
            entries.append(known[item])
        else:
            raise KeyError(f"{item!r} is not in the manifest; known: {sorted(known)}")
    return entries


class _SourceMissingError(Exception):
    """This source does not have the file (404, no such local file): try the next one."""


class _SourceFailedError(Exception):
    """This source failed (retries used up, HTTP error): try the next one."""


class _HostDownError(_SourceFailedError):
    """The host cannot be reached at all: skip its other URLs too."""


class _TransientError(Exception):
    """A failure worth retrying on the same URL."""


class _RejectedError(Exception):
    """The content obtained is not the file we expect."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


def _summary(err: BaseException) -> str:
    """One line: the sources tried of a DownloadError, else the first line of the message."""
    tried = getattr(err, "tried", None)
    return "; ".join(tried) if tried else str(err).splitlines()[0]


def _progress_disabled() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def _caused_by(err: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``err`` or anything it wraps (cause, context, args, urllib3 reason) is ``kinds``."""
    stack, seen = [err], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kinds):
            return True
        nested = (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
        stack.extend(x for x in nested if isinstance(x, BaseException))
    return False


_RETRYABLE = (
    _TransientError,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
)


class _Fetcher:
    """Fetches manifest entries into one folder, remembering unreachable hosts between files."""

    def __init__(
        self, dest_dir: Path, base: str | None, pins_path: str | Path | None, retry: RetryPolicy
    ) -> None:
        self.dest_dir = dest_dir
        self.base = base
        self.pins_path = Path(pins_path) if pins_path else dest_dir / PINS_FILENAME
        self.retry = retry
        self.dead_hosts: set[str] = set()
        self.session = requests.Session()
        # Raw bytes: a server's Content-Encoding must not change what Range offsets count.
        self.session.headers.update(
            {"Accept-Encoding": "identity", "User-Agent": "momentum-repro-download/0.1"}
        )

    def sources(self, entry: ManifestEntry) -> list[str]:
        found = [f"{self.base}/{quote(p)}" for p in entry.mirror_paths()] if self.base else []
        return found + list(entry.urls)

    def fetch(self, entry: ManifestEntry) -> tuple[Path, str]:
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        final = self.dest_dir / entry.name
        part = self.dest_dir / f"{entry.name}.part"
        if final.exists():
            try:
                return final, self.verify(entry, final, "the existing file")
            except _RejectedError as rej:
                bad = self.move_aside(final, entry.name)
                log.warning(
                    "%s failed its check (%s); moved to %s, fetching again", final, rej, bad
                )
        tried: list[str] = []
        rejected: list[tuple[str, _RejectedError, Path]] = []
        for url in self.sources(entry):
            host = urlparse(url).netloc
            if host and host in self.dead_hosts:
                tried.append(f"{url}: skipped, host {host} unreachable")
                continue
            try:
                resumed = self.transfer(url, part, entry.name)
                try:
                    digest = self.verify(entry, part, url)
                except _RejectedError:
                    if not resumed:
                        raise
                    log.warning("Resumed %s failed its check; downloading it afresh", entry.name)
                    part.unlink()
                    self.transfer(url, part, entry.name)
                    digest = self.verify(entry, part, url)
            except _SourceMissingError as err:
                tried.append(f"{url}: not found ({err})")
            except _HostDownError as err:
                self.dead_hosts.add(host)
                tried.append(f"{url}: host unreachable ({err})")
            except _SourceFailedError as err:
                tried.append(f"{url}: failed ({err})")
            except _RejectedError as rej:
                bad = self.move_aside(part, entry.name)
                rejected.append((url, rej, bad))
                tried.append(f"{url}: {entry.name}: sha256 {rej}; moved aside to {bad}")
            else:
                os.replace(part, final)
                log.info("Fetched %s from %s (sha256 %s)", entry.name, url, digest)
                return final, digest
        if not tried:
            tried.append("no source: the manifest lists no URL and no mirror is set")
        listing = "\n".join(f"  - {t}" for t in tried)
        if rejected:
            url, rej, bad = rejected[-1]
            raise ChecksumError(
                f"{entry.name}: no source gave the expected content; last from {url}: "
                f"expected sha256 {rej.expected}, actual {rej.actual}; moved aside to {bad}\n"
                + listing,
                name=entry.name,
                expected=rej.expected,
                actual=rej.actual,
                bad_path=bad,
                tried=tried,
            )
        raise DownloadError(f"{entry.name}: could not be obtained; tried:\n{listing}", tried)

    # transfers -------------------------------------------------------------------------------

    def transfer(self, url: str, part: Path, label: str) -> bool:
        """Fill ``part`` from ``url``; return whether the transfer resumed an earlier ``.part``."""
        scheme = urlparse(url).scheme
        if scheme == "file":
            source = Path(url2pathname(urlparse(url).path))
            if not source.is_file():
                raise _SourceMissingError(f"no file {source}")
            shutil.copyfile(source, part)
            return False
        if scheme not in ("http", "https"):
            raise _SourceFailedError(f"unsupported URL scheme {scheme!r}")
        return self.http_transfer(url, part, label)

    def http_transfer(self, url: str, part: Path, label: str) -> bool:
        resumed = False
        for attempt in range(1, self.retry.attempts + 1):
            offset = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self.session.get(
                    url, headers=headers, stream=True, timeout=self.retry.timeout_s
                ) as resp:
                    status = resp.status_code
                    if status in (404, 410):
                        raise _SourceMissingError(f"HTTP {status}")
                    if status == 416 and offset:
                        return True  # the .part already holds every byte; the check decides
                    if status >= 500 or status == 429:
                        raise _TransientError(f"HTTP {status}")
                    if not 200 <= status < 300:
                        raise _SourceFailedError(f"HTTP {status}")
                    appending = status == 206 and offset > 0 and _range_start(resp) == offset
                    resumed = resumed or appending
                    if not appending:
                        offset = 0
                    length = resp.headers.get("Content-Length", "")
                    total = offset + int(length) if length.isdigit() else None
                    size = self.stream(resp, part, offset, total, label)
                    if total is not None and size < total:
                        raise _TransientError(f"connection closed at byte {size} of {total}")
                    return resumed
            except _RETRYABLE as err:
                if _caused_by(err, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
                    raise _HostDownError(f"cannot resolve {urlparse(url).hostname}") from err
                unreachable = _caused_by(
                    err,
                    (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError),
                )
                if attempt == self.retry.attempts:
                    kind = _HostDownError if unreachable else _SourceFailedError
                    raise kind(f"{_summary(err)} (after {attempt} tries)") from err
                delay = self.retry.backoff_s * 2 ** (attempt - 1)
                log.info("%s: %s; retry %d in %.1f s", url, _summary(err), attempt, delay)
                time.sleep(delay)
            except requests.RequestException as err:
                raise _SourceFailedError(_summary(err)) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(
        self, resp: requests.Response, part: Path, offset: int, total: int | None, label: str
    ) -> int:
        """Append the response body to ``part`` from ``offset``; return the size of ``part``."""
        size = offset
        with (
            open(part, "ab" if offset else "wb") as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=_progress_disabled(),
            ) as bar,
        ):
            for chunk in resp.raw.stream(_CHUNK, decode_content=False):
                out.write(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        return size

    # verification ----------------------------------------------------------------------------

    def verify(self, entry: ManifestEntry, path: Path, source: str) -> str:
        """Return the digest of ``path`` if it is the expected file; raise _RejectedError otherwise."""
        actual = file_sha256(path, decompress=entry.gzip)
        if entry.sha256:
            if actual not in entry.sha256:
                raise _RejectedError(" or ".join(entry.sha256), actual)
            return actual
        pins = self.load_pins()
        if entry.name in pins:
            pinned = pins[entry.name]["sha256"]
            if actual != pinned:
                raise _RejectedError(f"{pinned} (pinned in {self.pins_path})", actual)
            return actual
        problem = _content_problem(entry, path)
        if problem:
            raise _RejectedError(
                f"a valid {entry.name} (no digest pinned yet)", f"{actual}: {problem}"
            )
        pins[entry.name] = {"sha256": actual, "source": source}
        self.save_pins(pins)
        log.warning(
            "Pinned %s: sha256 %s, from its first verified download (%s); recorded in %s. "
            "Later downloads must match this pin.",
            entry.name,
            actual,
            source,
            self.pins_path,
        )
        return actual

    def load_pins(self) -> dict[str, dict[str, str]]:
        if not self.pins_path.exists():
            return {}
        return json.loads(self.pins_path.read_text())

    def save_pins(self, pins: dict[str, dict[str, str]]) -> None:
        tmp = self.pins_path.with_name(self.pins_path.name + ".tmp")
        tmp.write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.pins_path)

    def move_aside(self, path: Path, name: str) -> Path:
        bad = self.dest_dir / f"{name}.bad"
        os.replace(path, bad)
        return bad


def _range_start(resp: requests.Response) -> int | None:
    """First byte of a 206 answer, from ``Content-Range: bytes START-END/TOTAL``."""
    value = resp.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _content_problem(entry: ManifestEntry, path: Path) -> str | None:
    """Why ``path`` cannot be the file ``entry`` names, checked before a digest is pinned."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "looks like an HTML/XML page, not the data file"
    if not entry.keys:
        return None
    try:
        variables = mat_variables(path)
    except (MatFileError, ValueError, OSError) as err:
        return f"not a readable .mat file ({err})"
    missing = [k for k in entry.keys if variables and k not in variables]
    return f"lacks variables {missing}" if missing else None


def _missing_message(missing: Mapping[str, DownloadError], dest_dir: Path, base: str | None) -> str:
    lines = [f"Could not obtain {len(missing)} required raw file(s) into {dest_dir}:"]
    for name, err in missing.items():
        lines.append(f"* {name}")
        lines.extend(f"    - {t}" for t in err.tried or [_summary(err)])
    layout = "by name or as mnist/<file>, olivetti/olivettifaces.mat"
    if base is None:
        lines.append(
            f"No mirror is set. On a machine without internet, set {MIRROR_ENV} to a folder, "
            f"a file:// URL or an http(s):// base holding these files ({layout}), e.g.\n"
            f"    export {MIRROR_ENV}=/path/to/mirror"
        )
    else:
        lines.append(
            f"The mirror {base} ({MIRROR_ENV} or the mirror argument) was tried first; "
            f"it must hold these files {layout}."
        )
    return "\n".join(lines)
