"""Download stage against a local HTTP server (127.0.0.1) and local mirrors; no internet."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from momentum_repro.data.download import (
    MIRROR_ENV,
    ChecksumError,
    DownloadError,
    ManifestEntry,
    RetryPolicy,
    fetch,
    fetch_all,
    file_sha256,
    load_manifest,
)

SHARED_DATA = Path(__file__).parents[2] / "shared" / "data"
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5.0)


# --- fixtures -------------------------------------------------------------------------------


def idx_bytes(images: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes (LeCun's format) holding ``images``."""
    header = bytes([0, 0, 0x08, images.ndim]) + np.asarray(images.shape, ">u4").tobytes()
    return header + images.astype(np.uint8).tobytes()


def mat_bytes(**variables: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Route:
    """What the test server answers for one path."""

    body: bytes
    statuses: list[int] = field(default_factory=list)  # answered (and consumed) before the body
    drop_at: int | None = None  # first full answer: close the connection after this many bytes


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.statuses:
                    self.send_error(route.statuses.pop(0))
                    return
                body, start = route.body, 0
                ranged = self.headers.get("Range")
                if ranged:
                    start = int(ranged.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if route.drop_at is not None and not ranged:
                    self.wfile.write(body[: route.drop_at])
                    self.wfile.flush()
                    route.drop_at = None
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, **kwargs: object) -> str:
        self.routes[path] = Route(body, **kwargs)  # type: ignore[arg-type]
        return self.url + path


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No mirror from the developer's shell, no proxies for 127.0.0.1, no progress bars."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("CI", "1")


@pytest.fixture
def idx_gz():
    """(decompressed IDX bytes, gzip bytes) of a tiny image file, large enough to split."""
    images = np.random.default_rng(0).integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    raw = idx_bytes(images)
    return raw, gzip.compress(raw, mtime=0)


def closed_port_url(path: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused, no DNS, no internet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- HTTP transfers -------------------------------------------------------------------------


def test_gzip_file_is_verified_by_its_decompressed_digest(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    entry = ManifestEntry("images.gz", (server.serve("/images.gz", gz),), (sha256(raw),), gzip=True)
    path = fetch(entry, tmp_path, retry=FAST)
    assert path == tmp_path / "images.gz"
    assert path.read_bytes() == gz
    assert file_sha256(path, decompress=True) == sha256(raw) != sha256(gz)
    assert files_in(tmp_path) == ["images.gz"]


def test_digest_of_the_compressed_bytes_does_not_pass_for_a_gzip_entry(server, tmp_path, idx_gz):
    _, gz = idx_gz
    entry = ManifestEntry("images.gz", (server.serve("/images.gz", gz),), (sha256(gz),), gzip=True)
    with pytest.raises(ChecksumError):
        fetch(entry, tmp_path, retry=FAST)


def test_checksum_mismatch_moves_the_file_aside_and_names_both_digests(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    wrong = "0" * 64
    entry = ManifestEntry("images.gz", (server.serve("/images.gz", gz),), (wrong,), gzip=True)
    with pytest.raises(ChecksumError) as info:
        fetch(entry, tmp_path, retry=FAST)
    message = str(info.value)
    assert "images.gz" in message and wrong in message and sha256(raw) in message
    assert info.value.expected == wrong and info.value.actual == sha256(raw)
    assert files_in(tmp_path) == ["images.gz.bad"]
    assert (tmp_path / "images.gz.bad").read_bytes() == gz


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    half = len(gz) // 2
    url = server.serve("/images.gz", gz, drop_at=half)
    entry = ManifestEntry("images.gz", (url,), (sha256(raw),), gzip=True)
    path = fetch(entry, tmp_path, retry=FAST)
    assert path.read_bytes() == gz
    assert server.requests == [("/images.gz", None), ("/images.gz", f"bytes={half}-")]
    assert files_in(tmp_path) == ["images.gz"]


def test_an_interrupted_part_file_is_resumed(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    (tmp_path / "images.gz.part").write_bytes(gz[:100])
    entry = ManifestEntry("images.gz", (server.serve("/images.gz", gz),), (sha256(raw),), gzip=True)
    assert fetch(entry, tmp_path, retry=FAST).read_bytes() == gz
    assert server.requests == [("/images.gz", "bytes=100-")]


def test_a_stale_part_file_that_fails_the_check_is_downloaded_afresh(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    (tmp_path / "images.gz.part").write_bytes(b"x" * 100)
    entry = ManifestEntry("images.gz", (server.serve("/images.gz", gz),), (sha256(raw),), gzip=True)
    assert fetch(entry, tmp_path, retry=FAST).read_bytes() == gz
    assert server.requests == [("/images.gz", "bytes=100-"), ("/images.gz", None)]


def test_404_moves_on_to_the_next_url(server, tmp_path):
    body = b"payload" * 100
    good = server.serve("/good/file.bin", body)
    entry = ManifestEntry("file.bin", (server.url + "/missing/file.bin", good), (sha256(body),))
    assert fetch(entry, tmp_path, retry=FAST).read_bytes() == body
    assert [p for p, _ in server.requests] == ["/missing/file.bin", "/good/file.bin"]


def test_5xx_answers_are_retried(server, tmp_path):
    body = b"payload" * 100
    url = server.serve("/file.bin", body, statuses=[503, 500])
    entry = ManifestEntry("file.bin", (url,), (sha256(body),))
    assert fetch(entry, tmp_path, retry=FAST).read_bytes() == body
    assert len(server.requests) == 3


def test_persistent_5xx_fails_without_leaving_a_file_under_the_final_name(server, tmp_path):
    body = b"payload"
    url = server.serve("/file.bin", body, statuses=[500] * 10)
    entry = ManifestEntry("file.bin", (url,), (sha256(body),))
    with pytest.raises(DownloadError, match="HTTP 500"):
        fetch(entry, tmp_path, retry=FAST)
    assert len(server.requests) == FAST.attempts
    assert not (tmp_path / "file.bin").exists()


def test_a_verified_file_already_present_is_not_downloaded_again(server, tmp_path):
    body = b"payload" * 10
    entry = ManifestEntry("file.bin", (server.serve("/file.bin", body),), (sha256(body),))
    fetch(entry, tmp_path, retry=FAST)
    fetch(entry, tmp_path, retry=FAST)
    assert len(server.requests) == 1


# --- mirrors --------------------------------------------------------------------------------


@pytest.fixture
def mirror_folder(tmp_path, idx_gz):
    """A mirror laid out mnist/<file>."""
    folder = tmp_path / "mirror"
    (folder / "mnist").mkdir(parents=True)
    (folder / "mnist" / "images.gz").write_bytes(idx_gz[1])
    return folder


@pytest.mark.parametrize("form", ["file_url", "folder", "env"])
def test_local_mirror_is_tried_first_in_the_shared_data_layout(
    form, server, tmp_path, mirror_folder, idx_gz, monkeypatch
):
    raw, gz = idx_gz
    upstream = server.serve("/images.gz", b"not used")
    entry = ManifestEntry(
        "images.gz", (upstream,), (sha256(raw),), gzip=True, mirror_subdir="mnist"
    )
    mirror = {"file_url": mirror_folder.as_uri(), "folder": str(mirror_folder), "env": None}[form]
    if form == "env":
        monkeypatch.setenv(MIRROR_ENV, str(mirror_folder))
    dest = tmp_path / "raw"
    assert fetch(entry, dest, mirror, retry=FAST).read_bytes() == gz
    assert server.requests == []
    assert files_in(dest) == ["images.gz"]


def test_http_mirror_is_looked_up_by_name_then_sub_folder(server, tmp_path, idx_gz):
    raw, gz = idx_gz
    server.serve("/mirror/mnist/images.gz", gz)
    entry = ManifestEntry("images.gz", (), (sha256(raw),), gzip=True, mirror_subdir="mnist")
    assert fetch(entry, tmp_path, server.url + "/mirror/", retry=FAST).read_bytes() == gz
    assert [p for p, _ in server.requests] == ["/mirror/images.gz", "/mirror/mnist/images.gz"]


def test_a_mirror_without_the_file_falls_back_to_upstream(server, tmp_path, mirror_folder):
    body = b"upstream" * 10
    entry = ManifestEntry("other.bin", (server.serve("/other.bin", body),), (sha256(body),))
    assert fetch(entry, tmp_path / "raw", mirror_folder, retry=FAST).read_bytes() == body


# --- offline, optional files ----------------------------------------------------------------


def test_offline_without_mirror_fails_fast_with_one_message_listing_each_file(tmp_path):
    required = [
        ManifestEntry(name, (closed_port_url(f"/{name}"),), ("a" * 64,))
        for name in ("train-images.gz", "olivettifaces.mat")
    ]
    optional = ManifestEntry("paper.mat", (closed_port_url("/paper.mat"),), optional=True)
    dest = tmp_path / "raw"
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        fetch_all([*required, optional], dest, retry=FAST)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "2 required" in message
    for entry in required:
        assert entry.name in message and entry.urls[0] in message
    assert "paper.mat" not in message
    assert f"{MIRROR_ENV}=/path/to/mirror" in message
    assert not list(dest.glob("*.gz")) and not list(dest.glob("*.mat"))


def test_optional_files_that_fail_are_recorded_as_unavailable(server, tmp_path):
    body = b"required" * 10
    needed = ManifestEntry("needed.bin", (server.serve("/needed.bin", body),), (sha256(body),))
    paper = ManifestEntry("paper.mat", (server.url + "/paper.mat",), optional=True)
    report = fetch_all([needed, paper], tmp_path, retry=FAST)
    assert report.fetched == {"needed.bin": tmp_path / "needed.bin"}
    assert list(report.unavailable) == ["paper.mat"]
    assert "404" in report.unavailable["paper.mat"]
    assert report.to_json()["fetched"] == {"needed.bin": sha256(body)}


def test_required_overrides_the_optional_flag(server, tmp_path):
    paper = ManifestEntry("paper.mat", (server.url + "/paper.mat",), optional=True)
    with pytest.raises(DownloadError, match=r"paper\.mat"):
        fetch_all([paper], tmp_path, required={"paper.mat"}, retry=FAST)


# --- pinning --------------------------------------------------------------------------------


def test_first_download_pins_the_digest_and_later_downloads_must_match(server, tmp_path, caplog):
    first = mat_bytes(bdata=np.zeros((2, 784)), bdatatest=np.ones((1, 784)))
    url = server.serve("/digs3pts_1.mat", first)
    entry = ManifestEntry("digs3pts_1.mat", (url,), optional=True, keys=("bdata", "bdatatest"))
    with caplog.at_level(logging.WARNING, logger="momentum_repro.data.download"):
        fetch(entry, tmp_path, retry=FAST)
    pins = json.loads((tmp_path / "pins.json").read_text())
    assert pins["digs3pts_1.mat"]["sha256"] == sha256(first)
    assert "Pinned digs3pts_1.mat" in caplog.text

    (tmp_path / "digs3pts_1.mat").unlink()
    changed = mat_bytes(bdata=np.ones((2, 784)), bdatatest=np.ones((1, 784)))
    server.serve("/digs3pts_1.mat", changed)
    with pytest.raises(ChecksumError) as info:
        fetch(entry, tmp_path, retry=FAST)
    assert sha256(first) in str(info.value) and sha256(changed) in str(info.value)
    assert "pinned" in str(info.value)
    assert sorted(files_in(tmp_path)) == ["digs3pts_1.mat.bad", "pins.json"]
    assert json.loads((tmp_path / "pins.json").read_text()) == pins


def test_an_html_page_is_never_pinned(server, tmp_path):
    url = server.serve("/digs3pts_1.mat", b"<!DOCTYPE html><html>moved</html>")
    entry = ManifestEntry("digs3pts_1.mat", (url,), keys=("bdata",))
    with pytest.raises(ChecksumError, match="HTML"):
        fetch(entry, tmp_path, retry=FAST)
    assert files_in(tmp_path) == ["digs3pts_1.mat.bad"]


def test_a_mat_file_without_the_expected_variables_is_never_pinned(server, tmp_path):
    url = server.serve("/digs3pts_1.mat", mat_bytes(other=np.zeros(3)))
    entry = ManifestEntry("digs3pts_1.mat", (url,), keys=("bdata",))
    with pytest.raises(ChecksumError, match="bdata"):
        fetch(entry, tmp_path, retry=FAST)
    assert not (tmp_path / "pins.json").exists()


# --- the real manifest and data -------------------------------------------------------------


def test_manifest_lists_every_raw_file_with_urls():
    manifest = load_manifest()
    paper = {"digs3pts_1.mat", "mnist_all.mat", "newfaces_rot_single.mat"}
    mnist = {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert set(manifest) == paper | mnist | {"olivettifaces.mat"}
    for name, entry in manifest.items():
        assert entry.urls, name
        assert entry.optional == (name in paper)
        assert bool(entry.sha256) == (name not in paper)
        assert entry.gzip == (name in mnist)
    assert manifest["olivettifaces.mat"].mirror_subdir == "olivetti"


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_real_files_verify_through_a_file_url_mirror_of_shared_data(tmp_path):
    manifest = load_manifest()
    names = [n for n, e in manifest.items() if not e.optional]
    report = fetch_all(names, tmp_path, SHARED_DATA.as_uri(), manifest=manifest)
    assert set(report.fetched) == set(names)
    for name in names:
        assert report.sha256[name] in manifest[name].sha256
