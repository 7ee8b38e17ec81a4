"""Shared helpers of the HTTP benchmarks (tests/bench/bench_http.py):
start the real gravitas binary on 127.0.0.1 and a free port with a fresh
data directory, talk HTTP to it, read its memory from /proc, stop it.
Standard library only (runs under /usr/bin/python3)."""

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


class Server:
    def __init__(self, binary, threads=2, extra_args=None, cpus=None):
        """threads None: the server's default (one per usable core); cpus:
        a taskset CPU list the server is pinned to."""
        self.binary = binary
        self.threads = threads
        self.cpus = cpus
        self.started_threads = None  # as the server's "listening" line says
        self.last_headers = {}  # of the last answer, lower-case names
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.port = None
        self.data_dir = None
        self._ready = threading.Event()
        self.lines = []

    def start(self):
        self.data_dir = tempfile.mkdtemp(prefix="gravitas-bench-")
        argv = [self.binary, "--port", "0", "--host", "127.0.0.1",
                "--data-dir", self.data_dir]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        if self.cpus is not None:  # taskset execs: the pid stays the server's
            argv = ["taskset", "-c", self.cpus] + argv
        self.proc = subprocess.Popen(argv + self.extra_args,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("gravitas did not start:\n" +
                                   "\n".join(self.lines[-20:]))
        # The default model is installed after 'listening': wait for it.
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("gravitas never became ready")

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if len(self.lines) < 10000:
                self.lines.append(line)
            if not self._ready.is_set():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("event") == "listening":
                    self.port = obj.get("port")
                    self.started_threads = obj.get("threads")
                    self._ready.set()

    def request(self, method, path, body=None, ctype="application/json",
                timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            headers = {"Content-Type": ctype} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, data
        finally:
            conn.close()

    def proc_status(self, field):
        """A /proc/<pid>/status field in kB (VmHWM, VmRSS)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def cpu_seconds(self):
        """User + system CPU seconds of the server so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(parts[11]) + int(parts[12])) / tick

    def stop(self):
        """SIGTERM; returns the exit status (None when it had to be
        killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            rc = self.proc.returncode
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
