"""A real `labs serve` in a subprocess on a free port, for the test suite and the benchmarks:
websockets, browsers, several processes, and SIGKILL (kill) followed by a restart (start)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from labs.settings import ROOT

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LABS_DATA_DIR": str(data_dir), "LABS_SECRET_KEY": "test-secret", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labs", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"labs serve exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base_url + "/login", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("labs serve did not start: " + self.log()[-2000:])

    def labs(self, *args: str) -> None:
        """Run the `labs` command against the same database (e.g. `db upgrade`)."""
        subprocess.run([sys.executable, "-m", "labs", *args], env=self.env, check=True, capture_output=True, cwd=ROOT)

    def create_user(self, email: str, role: str = "facilitator") -> str:
        """An account through the CLI; returns its bearer token."""
        self.labs("users", "create", "--email", email, "--password", PASSWORD, "--role", role)
        request = urllib.request.Request(
            self.base_url + "/api/v1/auth/tokens",
            method="POST",
            data=json.dumps({"email": email, "password": PASSWORD}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["token"])

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"server-{self.port}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what was acknowledged must still be there."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None
