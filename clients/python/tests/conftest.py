"""A real `stitch serve` for the tests: loopback, OS-chosen ports, a temporary
store. The binary is $TEST_STITCH_BINARY (not STITCH_…: the server reads those as settings) or the repository's debug build."""
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BINARY = os.environ.get("TEST_STITCH_BINARY", str(REPO / ".build" / "debug" / "stitch"))
POOLS = {"7": {"dynamic_numbers": ["+7 495 100-00-01", "+7 495 100-00-02"], "hold_seconds": 900}}


class Server:
    def __init__(self, data_dir, *settings, ports=None):
        self.data_dir = data_dir
        self.settings = list(settings)
        self.ports = None
        self._start(ports)

    def _start(self, ports):
        ready = pathlib.Path(self.data_dir).with_suffix(".ready.json")
        ready.unlink(missing_ok=True)
        ports = ports or {"ingest": 0, "query": 0, "http": 0, "intake": 0}
        args = [BINARY, "serve", "--data-dir", str(self.data_dir), "--ready-file", str(ready),
                "--ingest-port", str(ports["ingest"]), "--query-port", str(ports["query"]),
                "--http-port", str(ports["http"]), "--intake-port", str(ports["intake"]),
                "--set", "number_pools=" + json.dumps(POOLS)]
        for setting in self.settings:
            args += ["--set", setting]
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            if ready.exists() and ready.stat().st_size > 0:
                self.ports = json.loads(ready.read_text())
                return
            if self.process.poll() is not None:
                raise RuntimeError("stitch serve exited: " + self.process.stderr.read())
            time.sleep(0.05)
        raise RuntimeError("stitch serve did not become ready")

    def kill(self):
        """SIGKILL, as a crash would."""
        self.process.kill()
        self.process.wait()

    def restart(self):
        """Starts again on the same store and ports."""
        self._start(self.ports)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    s.stop()


@pytest.fixture
def token_server(tmp_path):
    s = Server(tmp_path / "data", "tokens=site-one=1;boss=*")
    yield s
    s.stop()
