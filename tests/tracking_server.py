"""A real MLflow tracking server for tests: ``make mlflow-server`` on a free loopback port,
with its store in a temporary folder, always stopped (the whole process group) at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import ROOT

START_SECONDS = 120  # a cold start on a busy 2-core machine takes 10-30 s
STOP_SECONDS = 20


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a race with another program is
    possible but harmless: the server then fails to start and the test says so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def mlflow_server(store: Path) -> Iterator[str]:
    """Start ``make mlflow-server`` (SQLite ``store/mlflow.db``, artifacts served from
    ``store/mlartifacts``) and yield its URI once ``/health`` answers."""
    store.mkdir(parents=True, exist_ok=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log_path = store / "server.log"
    command = [
        "make", "-s", "--no-print-directory", "-C", str(ROOT),
        "-o", "venv",  # never (re)install the venv from a test
        "mlflow-server", f"MLFLOW_PORT={port}", "MLFLOW_WORKERS=1", f"MLFLOW_STORE={store}",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        # its own process group: make, mlflow and uvicorn are stopped together
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not answers(f"{uri}/health"):
            if server.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer from {uri} in {START_SECONDS}s")
            time.sleep(0.5)
        yield uri
    finally:
        stop_group(server)


def stop_group(leader: subprocess.Popen) -> None:
    """SIGTERM the leader's process group, then SIGKILL what is left after ``STOP_SECONDS``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(leader.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline:
            leader.poll()  # reap it: a zombie leader would keep the group "alive"
            try:
                os.killpg(leader.pid, 0)  # is any process of the group left?
            except ProcessLookupError:
                return
            time.sleep(0.2)
