"""Starts real `hearsay agent` processes on loopback for integration tests, bounded in time.

Every helper waits with a deadline and the agents are killed when the test ends, even on failure.
The agent binary comes from $HEARSAY_AGENT (set by ctest) or build/agent/hearsay.
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.environ.get("HEARSAY_AGENT", os.path.join(REPO, "build", "agent", "hearsay"))


def free_port(kind=socket.SOCK_STREAM):
    """A port that is free for both TCP and UDP on 127.0.0.1 at the time of asking."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Agent:
    """One agent process with its own data dir and ports."""

    def __init__(self, name="node1", data_dir=None, extra_args=(), http_port=None, dns_port=None, serf_port=None,
                 preexec_fn=None):
        self.name = name
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=f"hearsay-it-{name}-")
        self.http_port = http_port or free_port()
        self.dns_port = dns_port or free_port()
        self.serf_port = serf_port or free_port()  # never the default 8301: tests run in parallel
        self.extra_args = list(extra_args)
        self.preexec_fn = preexec_fn  # e.g. a lower RLIMIT_NOFILE for the agent alone
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "agent.log")

    def args(self):
        return [AGENT, "agent", "-node", self.name, "-data-dir", self.data_dir, "-client", "127.0.0.1",
                "-bind", "127.0.0.1", "-http-port", str(self.http_port), "-dns-port", str(self.dns_port),
                "-serf-lan-port", str(self.serf_port),
                "-log-level", "debug"] + self.extra_args

    def launch(self):
        """Starts the process without waiting for it to answer (it may be meant to fail)."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=self.preexec_fn)
        log.close()
        return self

    def start(self, timeout=30.0):  # generous: ctest runs scripts two at a time beside the simulators
        self.launch()
        wait_until(lambda: self.proc.poll() is None and self.get("/v1/agent/self")[0] == 200,
                   timeout=timeout, what=f"agent {self.name} to answer HTTP (log: {self.log_path})")
        return self

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace"), dict(resp.getheaders())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def get_json(self, path):
        status, body, headers = self.get(path)
        assert status == 200, f"GET {path} -> {status}: {body}"
        return json.loads(body), headers

    def metric(self, name):
        """A figure of /v1/agent/metrics by its dotted name: a gauge's Value or a counter's
        total since start (Consul's JSON lists counters apart, under Counters)."""
        data, _ = self.get_json("/v1/agent/metrics")
        for g in data["Gauges"]:
            if g["Name"] == name:
                return g["Value"]
        for c in data["Counters"]:
            if c["Name"] == name:
                return c["Sum"]
        raise AssertionError(f"no metric {name}")

    def cleanup(self):
        self.stop()
        if self._own_dir:
            subprocess.run(["rm", "-rf", self.data_dir], check=False)


@contextlib.contextmanager
def running_agent(**kw):
    agent = Agent(**kw).start()
    try:
        yield agent
    except BaseException:
        print("---- agent log ----\n" + agent.log()[-8000:])
        raise
    finally:
        agent.cleanup()


SKIP_EXIT = 77  # ctest's SKIP_RETURN_CODE for the integration tests (tests/integration/CMakeLists.txt)


def skip(reason):
    """Ends the script as skipped (exit 77, which ctest reports as a skip, not a pass). Under CI
    (CI=true) a skip is a failure: the CI machine is meant to have what the test needs."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        print(f"FAIL: cannot run under CI: {reason}\n0 passed, 1 failed", flush=True)
        raise SystemExit(1)
    print(f"SKIP: {reason}", flush=True)
    raise SystemExit(SKIP_EXIT)


class Results:
    """Counts checks so the run ends with the plain 'N passed, N failed' line CI reads."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        start = time.monotonic()
        try:
            fn(*args)
            self.passed += 1
            print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        raise SystemExit(1 if self.failed else 0)


class Serf:
    """A stock Debian serf agent on loopback, for interop tests; `key` turns on encryption."""

    def __init__(self, name, join=None, key=None):
        self.name = name
        self.port, self.rpc = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix=f"hearsay-serf-{name}-")
        args = ["serf", "agent", f"-node={name}", f"-bind=127.0.0.1:{self.port}", f"-rpc-addr=127.0.0.1:{self.rpc}",
                "-log-level=warn"]
        if join:
            args.append(f"-join=127.0.0.1:{join}")
        self.keyring_file = None
        if key:  # a keyring file rather than -encrypt, so key changes land on disk to be checked
            self.keyring_file = os.path.join(self.dir, "keyring.json")
            with open(self.keyring_file, "w") as f:
                json.dump([key], f)
            args.append(f"-keyring-file={self.keyring_file}")
        self.log = open(os.path.join(self.dir, "serf.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.members() is not None, timeout=10, what=f"serf {name} RPC")

    def members(self):
        out = subprocess.run(["serf", "members", f"-rpc-addr=127.0.0.1:{self.rpc}", "-format=json"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        return {m["name"]: (m["status"], m["tags"]) for m in json.loads(out.stdout)["members"]}

    def keys(self, *args):
        """`serf keys ...`: serf's key query to every member; exit status 1 when any member
        (serf or hearsay) fails or does not answer."""
        return subprocess.run(["serf", "keys", f"-rpc-addr=127.0.0.1:{self.rpc}", *args],
                              capture_output=True, text=True, timeout=30)

    def keyring(self):
        with open(self.keyring_file) as f:
            return json.load(f)

    def leave(self):
        subprocess.run(["serf", "leave", f"-rpc-addr=127.0.0.1:{self.rpc}"], capture_output=True, timeout=30)
        self.proc.wait(timeout=30)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def cleanup(self):
        if self.proc.poll() is None:
            self.kill9()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_prometheus(config, tmp, port):
    """Debian's prometheus on 127.0.0.1:port with `config`, data and log (prometheus.log) in
    tmp; returns the process once it answers /-/ready."""
    log = open(os.path.join(tmp, "prometheus.log"), "wb")
    prom = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200,
               timeout=60, what="Prometheus to be ready")
    return prom


def stop_prometheus(prom, tmp, show_log):
    """Stops what start_prometheus started (None: nothing); prints the tail of its log when asked."""
    if prom:
        prom.terminate()
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
    if show_log and os.path.exists(os.path.join(tmp, "prometheus.log")):
        with open(os.path.join(tmp, "prometheus.log"), "rb") as f:
            print("---- prometheus log ----\n" + f.read().decode(errors="replace")[-4000:])
