"""A real `stitch serve` on loopback with OS-chosen ports and its own store,
for tests and tools (clients/python/tests, ops/attack-rss.py)."""
import json
import pathlib
import signal
import subprocess
import time


class ServeProcess:
    """`stitch serve` on `data_dir`; `ports` is what it bound (ingest, query,
    http, intake). Its log goes to `data_dir` + `.log` (a pipe nobody reads
    would stall a server that logs much)."""

    def __init__(self, binary, data_dir, settings=(), ports=None):
        self.binary = str(binary)
        self.data_dir = pathlib.Path(data_dir)
        self.settings = list(settings)
        self.ports = None
        self.log_path = self.data_dir.with_suffix(".log")
        self._start(ports)

    def _start(self, ports):
        ready = self.data_dir.with_suffix(".ready.json")
        ready.unlink(missing_ok=True)
        ports = ports or {"ingest": 0, "query": 0, "http": 0, "intake": 0}
        args = [self.binary, "serve", "--data-dir", str(self.data_dir), "--ready-file", str(ready),
                "--ingest-port", str(ports["ingest"]), "--query-port", str(ports["query"]),
                "--http-port", str(ports["http"]), "--intake-port", str(ports["intake"])]
        for setting in self.settings:
            args += ["--set", setting]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log)
        for _ in range(200):
            if ready.exists() and ready.stat().st_size > 0:
                self.ports = json.loads(ready.read_text())
                return
            if self.process.poll() is not None:
                raise RuntimeError("stitch serve exited: " + self.log_path.read_text())
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
        """SIGTERM, and waits for the graceful exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
