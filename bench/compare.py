"""Side-by-side benchmark: direct to a mock OpenAI upstream vs llm-router, nginx and LiteLLM.

    python bench/compare.py            # full run, writes bench/RESULTS.md and bench/results.json
    python bench/compare.py --quick    # smoke run of a few seconds (writes under bench/.quick/)

One run starts the mock upstream (bench/mock_upstream.py) on the load core,
then every system under test on the proxy core, and measures them in rounds,
alternating the systems inside every measurement so that machine drift hits
all of them alike:

  - latency at 1 and 10 concurrent clients (wrk, or bench/loadgen.py without wrk),
    reported as added latency over direct to the mock, paired round by round;
  - max requests/s whose p99 stays under 50 ms, from a concurrency sweep;
  - streaming time to first chunk in the mock's realistic mode (bench/loadgen.py);
  - RSS of the whole process tree, idle and peak under load (/proc VmRSS, VmHWM);
  - time from process start to ready.

Systems: `direct`, one `llm-router:<variant>` per entry of bench/variants.yaml
that `llm-router check` accepts, `nginx` (if installed, or installed here with
apt-get when running as root), `litellm` (installed into its own virtualenv).
Every child runs in its own process group and is killed on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
P99_LIMIT_US = 50_000.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CHAT_PATH = "/v1/chat/completions"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer concisely."},
    {"role": "user", "content": "What is the capital of France? Answer in two sentences and mention the river."},
]
INSTANT_BODY = {"model": "bench-instant", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 64}
STREAM_BODY = {"model": "bench-realistic", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 64,
               "stream": True, "stream_options": {"include_usage": True}}
# LiteLLM refuses to start without a strong master key; one is made per run and every system gets
# the same Authorization header (the others ignore it; the mock never checks it).
MASTER_KEY = "sk-" + secrets.token_hex(32)
AUTH = f"Bearer {MASTER_KEY}"
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true",
               "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "true", "LITELLM_MASTER_KEY": MASTER_KEY}


@dataclass(frozen=True)
class Plan:
    rounds: int
    latency_s: int
    latency_max_requests: int
    stream_requests: int
    tput_levels: tuple[int, ...]
    tput_s: int
    ready_trials: int
    warmup: int
    settle_s: float


FULL = Plan(rounds=5, latency_s=3, latency_max_requests=200_000, stream_requests=30,
            tput_levels=(1, 4, 16, 64, 128, 256), tput_s=2, ready_trials=3, warmup=200, settle_s=1.0)
QUICK = Plan(rounds=1, latency_s=1, latency_max_requests=20_000, stream_requests=4,
             tput_levels=(16,), tput_s=1, ready_trials=0, warmup=20, settle_s=0.2)


class BenchError(Exception):
    pass


NICE = 0  # set from --nice; applied to every child (systems, mock, load generators)


def child_setup(cores: set[int] | None) -> Callable[[], None] | None:
    if not cores and not NICE:
        return None

    def setup() -> None:
        if cores:
            os.sched_setaffinity(0, cores)
        if NICE:
            os.setpriority(os.PRIO_PROCESS, 0, NICE)

    return setup


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- processes


def proc_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """A child in its own process group, pinned to `cores`, output to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cores: set[int] | None,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, preexec_fn=child_setup(cores), env=env, cwd=cwd)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_kb(self) -> int:
        return sum(status_kb(p, "VmRSS") for p in proc_tree(self.pid))

    def hwm_kb(self) -> int:
        return sum(status_kb(p, "VmHWM") for p in proc_tree(self.pid))

    def cpu_s(self) -> float:
        """User + system CPU time of the live process tree, all threads, in seconds."""
        ticks = 0
        for pid in proc_tree(self.pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def log_tail(self, n: int = 15) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, timeout: float = 5.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        self._log.close()


def run_tool(argv: list[str], timeout: float, cores: set[int] | None) -> str:
    """Runs a load generator to completion in its own process group; returns its stdout."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         start_new_session=True, preexec_fn=child_setup(cores), text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    if p.returncode != 0:
        raise BenchError(f"{argv[0]} exited {p.returncode}: {err.strip()[-500:]}")
    return out


class PeakSampler:
    """Samples the summed RSS of a process tree every 50 ms while load runs."""

    def __init__(self, proc: Proc | None) -> None:
        self.proc = proc
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, self.proc.rss_kb())

    def __enter__(self) -> PeakSampler:
        if self.proc is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self._stop.set()
            self._thread.join()
            self.peak_kb = max(self.peak_kb, self.proc.rss_kb())


def http_status(url: str, method: str = "GET", body: bytes | None = None, timeout: float = 5.0) -> int:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        headers = {"Authorization": AUTH}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, u.path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


# ---------------------------------------------------------------- systems


@dataclass
class System:
    name: str
    kind: str
    url: str  # base URL that serves /v1/chat/completions
    start_argv: list[str] | None = None
    ready_url: str | None = None
    ready_method: str = "GET"
    env: dict[str, str] | None = None
    cwd: Path | None = None
    ready_timeout: float = 20.0
    description: str = ""
    proc: Proc | None = None
    failed: str | None = None
    data: dict[str, Any] = field(default_factory=lambda: {
        "ready_s": [], "rss_ready_kb": [], "latency": {"c1": [], "c10": []}, "stream": [], "throughput": []})

    def start(self, scratch: Path, cores: set[int] | None) -> float:
        """Starts the system and returns seconds from process start to ready."""
        assert self.start_argv is not None
        env = dict(os.environ, **(self.env or {}))
        self.proc = Proc(self.name, self.start_argv, scratch / f"{self.name.replace(':', '-')}.log", cores, env, self.cwd)
        deadline = self.proc.started + self.ready_timeout
        while True:
            if not self.proc.alive():
                raise BenchError(f"{self.name} exited with {self.proc.popen.returncode} before ready:\n"
                                 f"{self.proc.log_tail()}")
            try:
                status = http_status(self.ready_url, self.ready_method, timeout=2.0)
            except OSError:
                status = 0
            if status == 200:
                return time.perf_counter() - self.proc.started
            if time.perf_counter() > deadline:
                raise BenchError(f"{self.name} not ready after {self.ready_timeout:.0f} s "
                                 f"(last status {status}):\n{self.proc.log_tail()}")
            time.sleep(0.005)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def fill(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in subs.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, subs) for v in value]
    return value


def llm_router_argv() -> list[str]:
    script = Path(sys.executable).parent / "llm-router"
    return [str(script)] if script.exists() else [sys.executable, "-m", "proxy"]


def llm_router_systems(args: argparse.Namespace, scratch: Path, mock_url: str,
                       skipped: dict[str, str]) -> list[System]:
    variants = yaml.safe_load(Path(args.variants_file).read_text()) or []
    chosen = args.variants or ("passthrough" if args.quick else None)
    wanted = set(chosen.split(",")) if chosen else None
    try:
        import proxy.commands.serve  # noqa: F401
    except ImportError as exc:
        for v in variants:
            if wanted is None or v["name"] in wanted:
                skipped[f"llm-router:{v['name']}"] = f"llm-router is not importable here ({exc})"
        return []
    systems = []
    subs = {"mock_url": mock_url, "scratch": str(scratch), "repo": str(REPO)}
    for v in variants:
        name = f"llm-router:{v['name']}"
        if wanted is not None and v["name"] not in wanted:
            continue
        port, admin = free_port(), free_port()
        base = {"listen": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{admin}",
                "upstreams": {"openai": {"base_url": mock_url}},
                "logging": {"level": "info", "access_log": True}}
        cfg = deep_merge(base, fill(v.get("config") or {}, subs))
        path = scratch / f"llm-router-{v['name']}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        check = subprocess.run(llm_router_argv() + ["check", "-c", str(path)], capture_output=True, text=True,
                               timeout=60, cwd=REPO, stdin=subprocess.DEVNULL)
        said = (check.stdout + check.stderr).strip()
        if check.returncode == 1:
            said = said.replace(str(path), path.name)
            reason = " ".join(said.splitlines()[:3])[:400] or "rejected without a message"
            skipped[name] = f"`llm-router check` rejects it: {reason}"
            log(f"skip {name}: {skipped[name]}")
            continue
        if check.returncode != 0:
            log(f"warning: `llm-router check` exited {check.returncode} for {name}; trying to serve it anyway "
                f"({said.splitlines()[-1] if said else 'no output'})")
        systems.append(System(
            name=name, kind="llm-router", url=f"http://127.0.0.1:{port}",
            start_argv=llm_router_argv() + ["serve", "-c", str(path)],
            ready_url=f"http://127.0.0.1:{admin}/readyz", cwd=REPO, ready_timeout=20.0,
            description=v.get("description", "")))
    return systems


def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log(f"cannot install {packages}: needs root and apt-get")
        return
    log(f"installing {' '.join(packages)} from Debian (apt-get update, then install)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], env=env, check=False, timeout=600,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, check=False, timeout=900,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def nginx_system(scratch: Path, mock_port: int) -> System:
    port = free_port()
    root = scratch / "nginx"
    root.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = root / "nginx.conf"
    conf.write_text(f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {root}/access.log combined buffer=64k flush=1s;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 50m;
    upstream mock {{
        server 127.0.0.1:{mock_port};
        keepalive 512;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
""")
    return System(name="nginx", kind="nginx", url=f"http://127.0.0.1:{port}",
                  start_argv=[nginx_binary(), "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                  ready_url=f"http://127.0.0.1:{port}/v1/models", ready_timeout=10.0,
                  description="nginx reverse proxy, 1 worker, keepalive upstream pool, no buffering")


def relay_system(mock_url: str) -> System:
    port = free_port()
    return System(name="aiohttp-relay", kind="reference", url=f"http://127.0.0.1:{port}",
                  start_argv=[sys.executable, str(BENCH / "naive_relay.py"), "--port", str(port),
                              "--upstream", mock_url],
                  ready_url=f"http://127.0.0.1:{port}/-/ready", ready_timeout=20.0,
                  description="reference: the plainest aiohttp relay (bench/naive_relay.py), no logging")


def ensure_litellm(venv: Path) -> Path | None:
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    log(f"installing LiteLLM proxy into {venv} (pip install 'litellm[proxy]'; a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, stdin=subprocess.DEVNULL)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], timeout=1800,
                       stdin=subprocess.DEVNULL)
    return exe if r.returncode == 0 and exe.exists() else None


def litellm_system(exe: Path, scratch: Path, mock_url: str, models: set[str]) -> System:
    port = free_port()
    cfg = {"model_list": [
        {"model_name": m, "litellm_params": {"model": f"openai/{m}", "api_base": f"{mock_url}/v1",
                                             "api_key": "sk-bench-not-a-real-key"}}
        for m in sorted(models | {"bench-instant", "bench-realistic"})]}
    path = scratch / "litellm-config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return System(name="litellm", kind="litellm", url=f"http://127.0.0.1:{port}",
                  start_argv=[str(exe), "--config", str(path), "--port", str(port), "--host", "127.0.0.1"],
                  ready_url=f"http://127.0.0.1:{port}/health/readiness", env=LITELLM_ENV, cwd=scratch,
                  ready_timeout=180.0, description="LiteLLM proxy, default settings, 1 uvicorn worker")


# ---------------------------------------------------------------- load


WRK_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
local bodies = {{}}
for line in io.lines({bodies}) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('JSON {{"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def load_traffic(spec: str) -> tuple[list[bytes], str]:
    """The request bodies to rotate through, and a line saying what they are."""
    if spec == "fixed":
        return [json.dumps(INSTANT_BODY, separators=(",", ":")).encode()], "one fixed chat completion"
    bodies = []
    with open(spec) as f:
        for line in f:
            if line.strip():
                obj = {k: v for k, v in json.loads(line).items()
                       if not k.startswith("x_") and k not in ("stream", "usage", "stream_options")}
                bodies.append(json.dumps(obj, separators=(",", ":")).encode())
    if not bodies:
        raise BenchError(f"{spec} holds no request")
    models = sorted({json.loads(b)["model"] for b in bodies})
    shown = os.path.relpath(spec, REPO) if Path(spec).resolve().is_relative_to(REPO) else spec
    return bodies, (f"the {len(bodies)} chat completions of `{shown}` (models {', '.join(models)}), "
                    "each client rotating through them")


class Load:
    def __init__(self, scratch: Path, cores: set[int] | None, use_wrk: bool, bodies: list[bytes]) -> None:
        self.cores = cores
        self.wrk = shutil.which("wrk") if use_wrk else None
        self.body_file = scratch / "bodies.jsonl"
        self.body_file.write_bytes(b"\n".join(bodies) + b"\n")
        self.stream_file = scratch / "body-stream.json"
        self.stream_file.write_text(json.dumps(STREAM_BODY))
        self.lua = scratch / "post.lua"
        self.lua.write_text(WRK_LUA.format(bodies=json.dumps(str(self.body_file)), auth=AUTH))

    @property
    def tool(self) -> str:
        return "wrk" if self.wrk else "loadgen.py"

    def closed_loop(self, url: str, concurrency: int, seconds: int, max_requests: int) -> dict:
        if self.wrk:
            out = run_tool([self.wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "5s",
                            "-s", str(self.lua), url + CHAT_PATH], timeout=seconds + 30, cores=self.cores)
            line = next((ln for ln in out.splitlines() if ln.startswith("JSON ")), None)
            if line is None:
                raise BenchError(f"wrk printed no summary: {out[-300:]}")
            r = json.loads(line[5:])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["tool"] = "wrk"
            r["concurrency"] = concurrency
            return r
        return self.loadgen(url, concurrency, seconds, max_requests, stream=False)

    def loadgen(self, url: str, concurrency: int, seconds: float, max_requests: int, stream: bool) -> dict:
        argv = [sys.executable, str(BENCH / "loadgen.py"), "--url", url + CHAT_PATH,
                "--bodies-file", str(self.stream_file if stream else self.body_file),
                "--concurrency", str(concurrency), "--duration", str(seconds),
                "--max-requests", str(max_requests), "--warmup", "2", "--header", f"Authorization: {AUTH}"]
        if stream:
            argv.append("--stream")
        return json.loads(run_tool(argv, timeout=seconds + 60, cores=self.cores))


# ---------------------------------------------------------------- the run


def rotated(items: list[System], k: int) -> list[System]:
    live = [s for s in items if not s.failed]
    if not live:
        return []
    k %= len(live)
    return live[k:] + live[:k]


def warm(system: System, n: int) -> None:
    body = json.dumps(INSTANT_BODY).encode()
    stream = json.dumps(STREAM_BODY).encode()
    for i in range(n):
        status = http_status(system.url + CHAT_PATH, "POST", body, timeout=30)
        if status != 200:
            raise BenchError(f"{system.name}: warm-up request {i} answered {status}")
    for _ in range(3):
        if http_status(system.url + CHAT_PATH, "POST", stream, timeout=30) != 200:
            raise BenchError(f"{system.name}: streaming warm-up failed")


def measure(args: argparse.Namespace, plan: Plan, systems: list[System], load: Load,
            proxy_cores: set[int] | None, scratch: Path) -> None:
    startable = [s for s in systems if s.start_argv]

    def fail(system: System, exc: Exception) -> None:
        system.failed = str(exc)
        log(f"{system.name} dropped: {exc}")
        system.stop()

    for trial in range(plan.ready_trials):
        for system in rotated(startable, trial):
            try:
                ready = system.start(scratch, proxy_cores)
                time.sleep(plan.settle_s)
                system.data["ready_s"].append(ready)
                system.data["rss_ready_kb"].append(system.proc.rss_kb())
                log(f"ready trial {trial + 1}: {system.name} ready in {ready * 1000:.0f} ms")
            except BenchError as exc:
                fail(system, exc)
            finally:
                system.stop()

    for system in [s for s in startable if not s.failed]:
        try:
            ready = system.start(scratch, proxy_cores)
            system.data["ready_s"].append(ready)
            log(f"{system.name} ready in {ready * 1000:.0f} ms (pid {system.proc.pid})")
        except BenchError as exc:
            fail(system, exc)
    for system in [s for s in systems if not s.failed]:
        try:
            warm(system, plan.warmup)
        except (BenchError, OSError) as exc:
            fail(system, exc)
    time.sleep(plan.settle_s)
    for system in [s for s in startable if not s.failed]:
        system.data["rss_idle_kb"] = system.proc.rss_kb()
        system.data["rss_peak_sampled_kb"] = system.data["rss_idle_kb"]
        log(f"{system.name} idle RSS {system.data['rss_idle_kb'] / 1024:.1f} MiB")

    def step(system: System, what: str, fn: Callable[[], dict], sample_rss: bool = True) -> dict | None:
        # Reading /proc/PID/status of the process under test every 50 ms moved every proxy's p99 at
        # one client from about 0.4 to 1.3-1.6 ms (nginx's too): latency steps are not sampled. The
        # peak comes from the throughput sweep and from VmHWM, which sees every moment.
        if system.proc is not None and not system.proc.alive():
            fail(system, BenchError(f"process exited during the run:\n{system.proc.log_tail()}"))
            return None
        cpu_before = system.proc.cpu_s() if system.proc is not None else 0.0
        try:
            with PeakSampler(system.proc if sample_rss else None) as sampler:
                result = fn()
        except BenchError as exc:
            fail(system, BenchError(f"{what}: {exc}"))
            return None
        if system.proc is not None:
            result["cpu_s"] = system.proc.cpu_s() - cpu_before
            if result.get("requests"):
                result["cpu_us_per_req"] = result["cpu_s"] * 1e6 / result["requests"]
            seconds = result.get("duration_s") or result.get("duration_us", 0) / 1e6
            if seconds:
                result["cpu_busy"] = result["cpu_s"] / seconds
            system.data["rss_peak_sampled_kb"] = max(system.data.get("rss_peak_sampled_kb", 0), sampler.peak_kb)
        return result

    for rnd in range(plan.rounds):
        log(f"round {rnd + 1}/{plan.rounds}")
        for conc in (1, 10):
            for system in rotated(systems, rnd):
                r = step(system, f"latency c{conc}",
                         lambda: load.closed_loop(system.url, conc, plan.latency_s, plan.latency_max_requests),
                         sample_rss=False)
                if r is not None:
                    r["round"] = rnd
                    system.data["latency"][f"c{conc}"].append(r)
                    log(f"  {system.name:28s} c{conc:<3d} p50 {r['p50_us']:8.0f} us  p99 {r['p99_us']:8.0f} us  "
                        f"{r['rps']:8.0f} req/s  errors {r['errors']}")
        for system in rotated(systems, rnd):
            r = step(system, "stream", lambda: load.loadgen(system.url, 1, plan.stream_requests * 1.0 + 5,
                                                             plan.stream_requests, stream=True), sample_rss=False)
            if r is not None:
                r["round"] = rnd
                system.data["stream"].append(r)
                log(f"  {system.name:28s} stream TTFB p50 {r['ttfb_p50_us']:8.0f} us  total p50 "
                    f"{r['p50_us']:8.0f} us  errors {r['errors']}")
        misses = {s.name: 0 for s in systems}
        sweep: dict[str, list[dict]] = {s.name: [] for s in systems}
        for level in plan.tput_levels:
            for system in rotated(systems, rnd + level):
                if misses[system.name] >= 2:
                    continue
                r = step(system, f"throughput c{level}",
                         lambda: load.closed_loop(system.url, level, plan.tput_s, 10_000_000))
                if r is None:
                    continue
                ok = r["p99_us"] < P99_LIMIT_US and r["errors"] <= 0.001 * max(1, r["requests"])
                r["qualifies"] = ok
                sweep[system.name].append(r)
                misses[system.name] = 0 if ok else misses[system.name] + 1
                log(f"  {system.name:28s} c{level:<4d} {r['rps']:8.0f} req/s  p99 {r['p99_us'] / 1000:7.1f} ms  "
                    f"errors {r['errors']}{'' if ok else '  (over the p99 limit or erroring)'}")
        for system in systems:
            levels = sweep[system.name]
            if not levels:
                continue
            best = max((r["rps"] for r in levels if r["qualifies"]), default=0.0)
            system.data["throughput"].append({"round": rnd, "max_rps": best, "levels": levels,
                                              "saturation_rps": max(r["rps"] for r in levels)})

    for system in [s for s in startable if s.proc is not None]:
        system.data["rss_hwm_sum_kb"] = system.proc.hwm_kb()
        system.data["rss_peak_sampled_kb"] = max(system.data.get("rss_peak_sampled_kb", 0), system.proc.rss_kb())


# ---------------------------------------------------------------- results


def paired_added(system: System, direct: System, section: str, key: str) -> float | None:
    base = {r["round"]: r[key] for r in direct.data["latency"][section]} if section.startswith("c") else \
        {r["round"]: r[key] for r in direct.data[section]}
    rows = system.data["latency"][section] if section.startswith("c") else system.data[section]
    return median([r[key] - base[r["round"]] for r in rows if r["round"] in base and r[key] is not None
                   and base[r["round"]] is not None])


def summarize(systems: list[System]) -> dict[str, dict]:
    direct = systems[0]
    out = {}
    for s in systems:
        d = s.data
        row: dict[str, Any] = {"kind": s.kind, "description": s.description, "failed": s.failed}
        for c in ("c1", "c10"):
            for q in ("p50_us", "p99_us"):
                row[f"{q[:-3]}_{c}_us"] = median([r[q] for r in d["latency"][c]])
                if s is not direct:
                    row[f"added_{q[:-3]}_{c}_us"] = paired_added(s, direct, c, q)
        row["ttfb_p50_us"] = median([r["ttfb_p50_us"] for r in d["stream"]])
        row["stream_total_p50_us"] = median([r["p50_us"] for r in d["stream"]])
        if s is not direct:
            row["added_ttfb_p50_us"] = paired_added(s, direct, "stream", "ttfb_p50_us")
            row["added_ttfb_p99_us"] = paired_added(s, direct, "stream", "ttfb_p99_us")
            row["added_stream_total_p50_us"] = paired_added(s, direct, "stream", "p50_us")
        row["max_rps"] = median([r["max_rps"] for r in d["throughput"]])
        row["saturation_rps"] = median([r["saturation_rps"] for r in d["throughput"]])
        row["cpu_us_per_req_c10"] = median([r.get("cpu_us_per_req") for r in d["latency"]["c10"]])
        row["cpu_us_per_req_peak"] = median([max(t["levels"], key=lambda r: r["rps"]).get("cpu_us_per_req")
                                             for t in d["throughput"]])
        row["cpu_busy_peak"] = median([max(t["levels"], key=lambda r: r["rps"]).get("cpu_busy")
                                       for t in d["throughput"]])
        row["ready_s"] = median(d["ready_s"])
        row["rss_idle_mb"] = d["rss_idle_kb"] / 1024 if "rss_idle_kb" in d else None
        row["rss_peak_mb"] = d["rss_peak_sampled_kb"] / 1024 if "rss_peak_sampled_kb" in d else None
        row["rss_hwm_sum_mb"] = d["rss_hwm_sum_kb"] / 1024 if "rss_hwm_sum_kb" in d else None
        out[s.name] = row
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def ratios(summary: dict[str, dict]) -> dict[str, dict]:
    direct = summary.get("direct", {})
    nginx = summary.get("nginx")
    litellm = summary.get("litellm")
    out = {}
    for name, row in summary.items():
        if name == "direct":
            continue
        r: dict[str, float | None] = {
            "p50_c1_vs_direct": ratio(row["p50_c1_us"], direct.get("p50_c1_us")),
            "rps_vs_direct": ratio(row["max_rps"], direct.get("max_rps")),
        }
        for peer_name, peer in (("nginx", nginx), ("litellm", litellm), ("relay", summary.get("aiohttp-relay"))):
            if peer is None or peer is row:
                continue
            r[f"rps_vs_{peer_name}"] = ratio(row["max_rps"], peer["max_rps"])
            r[f"saturation_rps_vs_{peer_name}"] = ratio(row["saturation_rps"], peer["saturation_rps"])
            # Requests per CPU-second relative to the peer's: the share of the peer's throughput one core
            # would give if nothing else ran on it; the steadiest of the throughput figures here.
            r[f"cpu_efficiency_vs_{peer_name}"] = ratio(peer["cpu_us_per_req_peak"], row["cpu_us_per_req_peak"])
            r[f"added_p50_c1_vs_{peer_name}"] = ratio(row["added_p50_c1_us"], peer["added_p50_c1_us"])
            r[f"added_p50_c10_vs_{peer_name}"] = ratio(row["added_p50_c10_us"], peer["added_p50_c10_us"])
            r[f"rss_idle_vs_{peer_name}"] = ratio(row["rss_idle_mb"], peer["rss_idle_mb"])
            r[f"rss_peak_vs_{peer_name}"] = ratio(row["rss_peak_mb"], peer["rss_peak_mb"])
            r[f"ready_speedup_vs_{peer_name}"] = ratio(peer["ready_s"], row["ready_s"])
        out[name] = r
    return out


PASSTHROUGH = "llm-router:passthrough"
# The passthrough *mode* (dry run) with the lean policy: classifies and records every chat
# completion, rewrites none. The full pipeline is the same configuration with canary at 100 %
# and OTLP export added, so the pair shows what moving a route from dry run to canary costs.
PASSTHROUGH_MODE = "llm-router:passthrough-route-lean"
FULL_PIPELINE = "llm-router:full-pipeline"


def versus(systems: list[System], summary: dict[str, dict], base_name: str = PASSTHROUGH,
           only: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Each other llm-router variant (or those in `only`) against `base_name`, measured in the same run.

    `rps_ratio` is the ratio of the median throughputs (as in the tables);
    `rps_ratio_rounds` the ratio within each round, to show how much it moves.
    `added_p50_c1_us` is the median over rounds of the variant's p50 at one
    client minus the base's in the same round; `cpu_ratio` the ratio of
    CPU per request at peak.
    """
    base = next((s for s in systems if s.name == base_name and not s.failed), None)
    if base is None or base_name not in summary:
        return {}
    base_rps = {r["round"]: r["max_rps"] for r in base.data["throughput"]}
    base_p50 = {r["round"]: r["p50_us"] for r in base.data["latency"]["c1"]}
    out = {}
    for s in systems:
        if s is base or s.failed or not s.name.startswith("llm-router:") or s.name not in summary:
            continue
        if only is not None and s.name not in only:
            continue
        rounds = [r["max_rps"] / base_rps[r["round"]] for r in s.data["throughput"] if base_rps.get(r["round"])]
        p50 = [r["p50_us"] - base_p50[r["round"]] for r in s.data["latency"]["c1"]
               if base_p50.get(r["round"]) is not None and r["p50_us"] is not None]
        out[s.name] = {
            "rps_ratio": ratio(summary[s.name]["max_rps"], summary[base_name]["max_rps"]),
            "rps_ratio_rounds": rounds,
            "added_p50_c1_us": median(p50),
            "cpu_ratio": ratio(summary[s.name]["cpu_us_per_req_peak"], summary[base_name]["cpu_us_per_req_peak"]),
        }
    return out


def vs_passthrough(systems: list[System], summary: dict[str, dict]) -> dict[str, dict]:
    """Each other llm-router variant against plain passthrough (no routes), measured in the same run."""
    return versus(systems, summary, PASSTHROUGH)


def targets(summary: dict[str, dict], rat: dict[str, dict], vs: dict[str, dict] | None = None,
            vs_mode: dict[str, dict] | None = None) -> list[dict]:
    """The goals, measured. `vs` holds variants against plain passthrough, `vs_mode` the full
    pipeline against the passthrough mode with the same policy (see PASSTHROUGH_MODE)."""
    name = PASSTHROUGH
    row, r = summary.get(name), rat.get(name, {})

    def t(what: str, value: float | None, op: str, limit: float, unit: str = "") -> dict:
        ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
        return {"target": what, "value": value, "op": op, "limit": limit, "unit": unit, "pass": ok}

    if row is None:
        return []
    out = [
        t("added latency p50, 1 client", row["added_p50_c1_us"], "<=", 400, "us"),
        t("added latency p99, 1 client", row["added_p99_c1_us"], "<=", 1500, "us"),
        t("throughput vs nginx (one core)", r.get("rps_vs_nginx"), ">=", 0.5, "x"),
        t("idle RSS", row["rss_idle_mb"], "<=", 60, "MiB"),
        t("time to ready", row["ready_s"], "<=", 1.0, "s"),
        t("added p50 (1 client) vs nginx's", r.get("added_p50_c1_vs_nginx"), "<=", 2.0, "x"),
        t("throughput vs LiteLLM", r.get("rps_vs_litellm"), ">=", 30.0, "x"),
        t("added p50 (1 client) vs LiteLLM's", r.get("added_p50_c1_vs_litellm"), "<=", 1 / 20, "x"),
        t("idle RSS vs LiteLLM's", r.get("rss_idle_vs_litellm"), "<=", 0.25, "x"),
        t("peak RSS vs LiteLLM's", r.get("rss_peak_vs_litellm"), "<=", 0.25, "x"),
        t("time to ready, speedup over LiteLLM", r.get("ready_speedup_vs_litellm"), ">=", 10.0, "x"),
    ]
    # Telemetry (OTLP export on) against plain passthrough, and the full rollout pipeline (canary,
    # classification, telemetry) against the passthrough mode that classifies and records the same
    # traffic with the same policy; both in the same run.
    for v, label, base, min_ratio, max_added in (
            ((vs or {}).get("llm-router:telemetry"), "telemetry", "passthrough", 0.90, 50),
            ((vs_mode or {}).get(FULL_PIPELINE), "full pipeline", "the passthrough mode", 0.80, 150)):
        if v is not None:
            out += [
                t(f"{label}: throughput vs {base}", v["rps_ratio"], ">=", min_ratio, "x"),
                t(f"{label}: added p50 (1 client) over {base}", v["added_p50_c1_us"], "<=", max_added, "us"),
            ]
    return out


def shown_command(system: System) -> str:
    env = " ".join(f"{k}={'<random per run>' if v == MASTER_KEY else v}" for k, v in (system.env or {}).items())
    return (env + " " if env else "") + shlex.join(system.start_argv)


def sh(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not available"


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "nproc": sh(["nproc"]), "memory": sh(["free", "-h"]),
            "kernel": platform.release(), "affinity": str(sorted(os.sched_getaffinity(0)))}


def machine_load() -> str:
    """Load average and CPU pressure: how much other work competed for the cores."""
    parts = []
    with contextlib.suppress(OSError):
        parts.append("loadavg " + " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    with contextlib.suppress(OSError):
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        parts.append("CPU pressure " + some.replace("some ", "").rsplit(" total=", 1)[0])
    return "; ".join(parts) or "unknown"


def code_version() -> str:
    """The commit under test, and whether proxy/ had uncommitted changes when the run started."""
    head = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).splitlines()[-1]
    dirty = sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "proxy"]).strip()
    return head + (" with uncommitted changes in proxy/" if dirty else "")


def versions(litellm_exe: Path | None, wrk: bool) -> dict[str, str]:
    import importlib.metadata as md

    def pkg(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    v = {"python": platform.python_version(), "aiohttp": pkg("aiohttp"), "uvloop": pkg("uvloop"),
         "llm-router": pkg("llm-router"), "llm-router commit": code_version()}
    ng = nginx_binary()
    v["nginx"] = sh([ng, "-v"]).replace("nginx version: ", "") if ng else "not installed"
    v["wrk"] = sh(["wrk", "-v"]).splitlines()[0].split("[")[0].strip() if wrk else "not used"
    if litellm_exe is not None:
        v["litellm"] = sh([str(litellm_exe.parent / "python"), "-c",
                           "import importlib.metadata as m; print(m.version('litellm'))"]).splitlines()[-1]
    else:
        v["litellm"] = "not measured"
    return v


def fmt(value: float | None, scale: float = 1.0, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value / scale:,.{digits}f}{suffix}"


def write_markdown(path: Path, result: dict) -> None:
    m, v, s, r = result["machine"], result["versions"], result["summary"], result["ratios"]
    plan = result["plan"]
    lines = [
        "# Benchmark results: direct vs llm-router vs nginx vs LiteLLM",
        "",
        f"Written by `bench/compare.py` at {result['finished_utc']} UTC"
        + (" in **--quick smoke mode: tiny counts, the numbers mean nothing**." if result["quick"] else ".")
        + " Every number below was measured in that run; nothing is typed in. Raw per-round numbers: "
        f"`{result['json_name']}`.",
        "",
        "## Command",
        "",
        f"    {result['command']}",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}; nproc {m['nproc']}; kernel {m['kernel']}",
        f"- Pinning: systems under test on core(s) {result['proxy_cores']}; mock upstream, load generator and "
        f"harness on core(s) {result['load_cores']}; niceness of every child: {result['nice']}",
        f"- Other work on the machine (it is shared): at start {result['machine_load']['start']}; "
        f"at end {result['machine_load']['end']}",
        "- Memory (`free -h`):",
        "",
        *["      " + ln for ln in m["memory"].splitlines()],
        "",
        "## Versions",
        "",
        *[f"- {k}: {val}" for k, val in v.items()],
        "",
        "## Method",
        "",
        f"- Load generator: **{result['load_tool']}** (one thread, closed loop, keep-alive) for latency and "
        "throughput; `bench/loadgen.py` (aiohttp client) for streaming time to first chunk. It runs as its own "
        "process on the load core.",
        f"- {plan['rounds']} round(s); inside each measurement the systems take turns (the order rotates per "
        "round), so drift hits all alike. Added latency = system minus direct, paired within a round, "
        "median over rounds.",
        f"- Requests: {result['traffic']}.",
        f"- Latency: {plan['latency_s']} s at 1 and at 10 concurrent clients, non-streaming, instant mock.",
        f"- Throughput: concurrency sweep {list(plan['tput_levels'])}, {plan['tput_s']} s each; a system's figure "
        "is the highest req/s whose p99 < 50 ms with < 0.1 % errors (median over rounds); a system's sweep "
        "stops after two failing levels in a row. 'Peak req/s' is the highest rate at any level whatever its "
        "p99. 'CPU per request' is the user + system CPU time of the system's process tree (/proc/PID/stat) "
        "during its peak level, divided by the requests served; requests per CPU-second relative to nginx's is "
        "the share of nginx's throughput it would reach if both had a core to themselves, and moves much less "
        "with other work on the machine than any rate does. 'Core busy' is that CPU time over the wall time: "
        "a system well under 100 % was held back by the load core (mock + wrk), not by its own core.",
        f"- Streaming: {plan['stream_requests']} sequential `stream: true` requests per round in the mock's "
        "realistic mode (50 ms to the first chunk, 20 chunks 3 ms apart); time to first chunk measured by the client.",
        "- RSS: summed over the process tree from /proc/PID/status; idle = after ready and a warm-up, "
        "peak = highest VmRSS sum sampled every 50 ms during the throughput sweep, and the summed VmHWM "
        "(latency steps are not sampled: reading /proc/PID/status of the process under test added about "
        "1 ms to every proxy's p99 at one client, nginx's too).",
        "- Ready: process start to first 200 from `/readyz` (llm-router), `/health/readiness` (LiteLLM) or a "
        f"proxied `GET /v1/models` (nginx); median of {plan['ready_trials'] + 1} starts.",
        "",
        "## Results",
        "",
        "| system | p50 @1 | added p50 @1 | added p99 @1 | added p50 @10 | added p99 @10 | added TTFB p50 (stream) "
        "| max req/s (p99 < 50 ms) | peak req/s (any p99) | CPU per request at peak (core busy) | idle RSS "
        "| peak RSS (sampled / VmHWM sum) | ready |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in s.items():
        if name == "direct":
            lines.append(f"| direct (mock) | {fmt(row['p50_c1_us'], 1000, 3, ' ms')} | — | — | — | — | "
                         f"TTFB {fmt(row['ttfb_p50_us'], 1000, 2, ' ms')} | {fmt(row['max_rps'])} | {fmt(row['saturation_rps'])} "
                         "| — | — | — | — |")
            continue
        lines.append(
            f"| {name} | {fmt(row['p50_c1_us'], 1000, 3, ' ms')} | {fmt(row['added_p50_c1_us'], 1000, 3, ' ms')} "
            f"| {fmt(row['added_p99_c1_us'], 1000, 3, ' ms')} | {fmt(row['added_p50_c10_us'], 1000, 3, ' ms')} "
            f"| {fmt(row['added_p99_c10_us'], 1000, 3, ' ms')} | {fmt(row['added_ttfb_p50_us'], 1000, 3, ' ms')} "
            f"| {fmt(row['max_rps'])} | {fmt(row['saturation_rps'])} | {fmt(row['cpu_us_per_req_peak'], 1, 0, ' µs')} "
            f"({fmt(row['cpu_busy_peak'], 0.01, 0, ' %')}) "
            f"| {fmt(row['rss_idle_mb'], 1, 1, ' MiB')} "
            f"| {fmt(row['rss_peak_mb'], 1, 1)} / {fmt(row['rss_hwm_sum_mb'], 1, 1, ' MiB')} "
            f"| {fmt(row['ready_s'], 0.001, 0, ' ms')} |")
    otlp = (result.get("mock") or {}).get("otlp")
    if otlp:
        lines += ["", "Telemetry export reached the receiver (the mock): " + ", ".join(
            f"`{p}` {v['posts']} posts, {v['bytes']:,} bytes" for p, v in sorted(otlp.items())) + "."]
    lines += [
        "",
        "## Ratios",
        "",
        "| system | p50 @1 / direct | req/s / direct | req/s / nginx | peak req/s / nginx's "
        "| req/CPU-s / nginx's | added p50 @1 / nginx's | req/s / aiohttp-relay "
        "| req/s / LiteLLM | added p50 @1 / LiteLLM's | idle RSS / LiteLLM's | peak RSS / LiteLLM's "
        "| ready speed-up over LiteLLM |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in r.items():
        lines.append(
            f"| {name} | {fmt(row.get('p50_c1_vs_direct'), 1, 2, '×')} | {fmt(row.get('rps_vs_direct'), 1, 2, '×')} "
            f"| {fmt(row.get('rps_vs_nginx'), 1, 2, '×')} | {fmt(row.get('saturation_rps_vs_nginx'), 1, 2, '×')} "
            f"| {fmt(row.get('cpu_efficiency_vs_nginx'), 1, 2, '×')} "
            f"| {fmt(row.get('added_p50_c1_vs_nginx'), 1, 2, '×')} "
            f"| {fmt(row.get('rps_vs_relay'), 1, 2, '×')} | {fmt(row.get('rps_vs_litellm'), 1, 1, '×')} | {fmt(row.get('added_p50_c1_vs_litellm'), 1, 3, '×')} "
            f"| {fmt(row.get('rss_idle_vs_litellm'), 1, 2, '×')} | {fmt(row.get('rss_peak_vs_litellm'), 1, 2, '×')} "
            f"| {fmt(row.get('ready_speedup_vs_litellm'), 1, 1, '×')} |")
    for key, title, base, intro in (
            ("vs_passthrough", "Variants against passthrough (same run)", "passthrough",
             "Passthrough here is the plain proxy: no routes, no policy, no telemetry. "),
            ("vs_passthrough_mode", "The full pipeline against the passthrough mode (same run)", "passthrough mode",
             f"The passthrough mode is `{PASSTHROUGH_MODE}`: the lean policy classifies and records every chat "
             "completion and rewrites none. The full pipeline is that configuration with canary at 100 % and OTLP "
             "export added: what moving a route from the dry run to canary costs. ")):
        vs = result.get(key) or {}
        if not vs:
            continue
        lines += [
            "", f"## {title}", "",
            intro + "Throughput is the ratio of the median rates (the range is the ratio within each round); "
            f"added p50 is the median over rounds of the variant's p50 at one client minus the {base}'s in the "
            "same round.",
            "",
            f"| variant | throughput / {base} | per round | CPU per request / {base} | added p50 @1 |",
            "|---|---|---|---|---|",
        ]
        for name, v in vs.items():
            rounds = v["rps_ratio_rounds"]
            spread = f"{min(rounds):.2f}–{max(rounds):.2f}" if rounds else "—"
            lines.append(f"| {name} | {fmt(v['rps_ratio'], 1, 2, '×')} | {spread} | {fmt(v['cpu_ratio'], 1, 2, '×')} "
                         f"| {fmt(v['added_p50_c1_us'], 1000, 3, ' ms')} |")
    lines += ["", "## Targets (llm-router passthrough; telemetry against it; the full pipeline against the "
              "passthrough mode)", ""]
    if result["targets"]:
        lines += ["| target | measured | limit | result |", "|---|---|---|---|"]
        for t in result["targets"]:
            unit = t["unit"]
            digits = 3 if unit == "x" and t["limit"] < 1 else (0 if unit == "us" else 2)
            verdict = "not measured" if t["pass"] is None else ("**pass**" if t["pass"] else "**FAIL**")
            lines.append(f"| {t['target']} | {fmt(t['value'], 1, digits, ' ' + unit)} | {t['op']} "
                         f"{fmt(t['limit'], 1, digits, ' ' + unit)} | {verdict} |")
    else:
        lines.append("llm-router passthrough was not measured in this run.")
    if result["skipped"]:
        lines += ["", "## Not measured", ""]
        lines += [f"- **{k}**: {why}" for k, why in result["skipped"].items()]
    lines += ["", "## Commands of the systems", ""]
    lines += [f"- {k}: `{c}`" for k, c in result["commands"].items()]
    lines += ["", f"`<scratch>` is a temporary directory; the configuration files written there are in "
              f"`{result['json_name']}` under `configs`."]
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke mode: tiny counts, no LiteLLM, nginx only if installed")
    p.add_argument("--rounds", type=int, help="override the number of rounds")
    p.add_argument("--variants", help="comma-separated llm-router variant names (default: all in the variants file)")
    p.add_argument("--variants-file", default=str(BENCH / "variants.yaml"))
    p.add_argument("--no-nginx", action="store_true")
    p.add_argument("--no-litellm", action="store_true")
    p.add_argument("--no-reference", action="store_true", help="leave out the naive aiohttp relay")
    p.add_argument("--with-litellm", action="store_true", help="measure LiteLLM even with --quick")
    p.add_argument("--no-install", action="store_true", help="never apt-get or pip install anything")
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    default_traffic = REPO / "examples" / "traffic.jsonl"
    p.add_argument("--traffic", default=str(default_traffic) if default_traffic.exists() else "fixed",
                   help="JSONL of chat completion bodies to rotate through (x_* keys dropped), or 'fixed' "
                        "for one short prompt (default: examples/traffic.jsonl)")
    p.add_argument("--litellm-venv", default=str(BENCH / ".venv-litellm"))
    p.add_argument("--results-md", help="default: bench/RESULTS.md (bench/.quick/RESULTS.md with --quick)")
    p.add_argument("--results-json", help="default: bench/results.json (bench/.quick/results.json with --quick)")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness for every child, e.g. -10 (root) to keep other work on a shared machine "
                        "from stealing the cores; the same for all systems")
    p.add_argument("--keep-scratch", action="store_true", help="keep configs and logs of the systems")
    p.add_argument("--render", metavar="RESULTS_JSON",
                   help="measure nothing: recompute the summary, ratios and targets of an earlier run's JSON "
                        "and rewrite both files (after a change to the report)")
    return p.parse_args(argv)


def derived(systems: list[System]) -> dict[str, Any]:
    """The figures computed from the systems' raw data: summary, ratios, variants against passthrough, targets."""
    summary = summarize([s for s in systems if not s.failed or s.data["latency"]["c1"]])
    rat = ratios(summary)
    vs = vs_passthrough(systems, summary)
    vs_mode = versus(systems, summary, PASSTHROUGH_MODE, only=(FULL_PIPELINE,))
    return {"summary": summary, "ratios": rat, "vs_passthrough": vs, "vs_passthrough_mode": vs_mode,
            "targets": targets(summary, rat, vs, vs_mode)}


def render(json_file: Path, md_path: Path) -> int:
    """Rebuild the derived figures and the markdown of an earlier run from its raw data."""
    result = json.loads(json_file.read_text())
    systems = []
    for name, data in result["raw"].items():
        row = result["summary"].get(name, {})
        systems.append(System(name=name, kind=row.get("kind", ""), url="", description=row.get("description", ""),
                              failed=row.get("failed"), data=data))
    result.update(derived(systems))
    json_file.write_text(json.dumps(result, indent=1))
    write_markdown(md_path, result)
    log(f"rewrote {md_path} and {json_file} from the raw data of the run started {result['started_utc']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    global NICE
    args = parse_args(argv)
    NICE = args.nice
    if args.render:
        json_file = Path(args.render)
        return render(json_file, Path(args.results_md or json_file.with_name("RESULTS.md")))
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = Plan(**{**plan.__dict__, "rounds": args.rounds})
    out_dir = BENCH / ".quick" if args.quick else BENCH
    md_path = Path(args.results_md or out_dir / "RESULTS.md")
    json_path = Path(args.results_json or out_dir / "results.json")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)

    host = machine()
    load_before = machine_load()
    code_at_start = code_version()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        proxy_cores, load_cores = {cores[0]}, {cores[1]}
        os.sched_setaffinity(0, load_cores)
    else:
        proxy_cores = load_cores = None
        log("warning: fewer than two cores available, nothing is pinned")

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    install = not args.quick and not args.no_install
    if install and args.loadgen != "python" and not shutil.which("wrk") or \
            install and not args.no_nginx and not nginx_binary():
        apt_install([p for p, present in (("wrk", shutil.which("wrk")), ("nginx-light", nginx_binary()))
                     if not present])
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        log("wrk requested but not installed")
        return 2

    bodies, traffic = load_traffic(args.traffic)
    scratch = Path(tempfile.mkdtemp(prefix="llm-router-bench-"))
    skipped: dict[str, str] = {}
    systems: list[System] = []
    mock: Proc | None = None
    litellm_exe: Path | None = None
    configs: dict[str, str] = {}
    mock_stats: dict[str, Any] = {}
    started = time.time()
    try:
        mock_port = free_port()
        mock_url = f"http://127.0.0.1:{mock_port}"
        mock_argv = [sys.executable, str(BENCH / "mock_upstream.py"), "--port", str(mock_port)]
        mock = Proc("mock", mock_argv, scratch / "mock.log", load_cores)
        deadline = time.perf_counter() + 15
        while True:
            with contextlib.suppress(OSError):
                if http_status(mock_url + "/v1/models") == 200:
                    break
            if not mock.alive() or time.perf_counter() > deadline:
                raise BenchError(f"mock upstream did not start:\n{mock.log_tail()}")
            time.sleep(0.01)
        systems.append(System(name="direct", kind="direct", url=mock_url, description="straight to the mock"))
        systems += llm_router_systems(args, scratch, mock_url, skipped)
        if args.no_reference or args.quick:
            skipped["aiohttp-relay"] = "--no-reference" if args.no_reference else "skipped in --quick mode"
        else:
            systems.append(relay_system(mock_url))
        if args.no_nginx:
            skipped["nginx"] = "--no-nginx"
        elif nginx_binary():
            systems.append(nginx_system(scratch, mock_port))
        else:
            skipped["nginx"] = "nginx is not installed"
        if args.no_litellm:
            skipped["litellm"] = "--no-litellm"
        elif args.quick and not args.with_litellm:
            skipped["litellm"] = "skipped in --quick mode"
        else:
            litellm_exe = ensure_litellm(Path(args.litellm_venv)) if install or \
                (Path(args.litellm_venv) / "bin" / "litellm").exists() else None
            if litellm_exe is None:
                skipped["litellm"] = f"LiteLLM proxy not installed in {args.litellm_venv}"
            else:
                systems.append(litellm_system(litellm_exe, scratch, mock_url,
                                              {json.loads(b)["model"] for b in bodies}))
        load = Load(scratch, load_cores, use_wrk=args.loadgen != "python", bodies=bodies)
        log(f"systems: {', '.join(s.name for s in systems)}; load generator: {load.tool}; scratch {scratch}")
        measure(args, plan, systems, load, proxy_cores, scratch)
        for s in systems:
            if s.failed:
                skipped[s.name] = f"dropped during the run: {s.failed.splitlines()[0]}"
    finally:
        for s in systems:
            s.stop()
        for f in sorted(scratch.glob("*.yaml")) + sorted(scratch.glob("nginx/*.conf")):
            configs[str(f.relative_to(scratch))] = f.read_text().replace(str(scratch), "<scratch>")
        if mock is not None:
            mock.stop()
            otlp_line = next((ln for ln in mock.log_tail(5).splitlines() if ln.startswith("otlp received: ")), "")
            mock_stats["otlp"] = json.loads(otlp_line.split(": ", 1)[1]) if otlp_line else None
        if not args.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    cmd = sys.orig_argv if hasattr(sys, "orig_argv") else [sys.executable, *sys.argv]
    result = {
        "quick": args.quick,
        "command": shlex.join(["python" if i == 0 else a for i, a in enumerate(cmd)]),
        "started_utc": dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "finished_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "machine": host,
        "machine_load": {"start": load_before, "end": machine_load()},
        "versions": {**versions(litellm_exe, load.tool == "wrk"), "llm-router commit": code_at_start},
        "proxy_cores": sorted(proxy_cores) if proxy_cores else "unpinned",
        "load_cores": sorted(load_cores) if load_cores else "unpinned",
        "load_tool": load.tool,
        "traffic": traffic,
        "nice": NICE,
        "scratch": str(scratch),
        "plan": plan.__dict__,
        "commands": {k: v.replace(str(scratch), "<scratch>") for k, v in
                     {"mock": shlex.join(mock_argv),
                      **{s.name: shown_command(s) for s in systems if s.start_argv}}.items()},
        "configs": configs,
        "mock": mock_stats,
        "skipped": skipped,
        **derived(systems),
        "raw": {s.name: s.data for s in systems},
        "json_name": json_path.name,
    }
    json_path.write_text(json.dumps(result, indent=1))
    write_markdown(md_path, result)
    log(f"wrote {md_path} and {json_path}")
    for t in result["targets"]:
        verdict = "n/a " if t["pass"] is None else ("pass" if t["pass"] else "FAIL")
        log(f"  {verdict}  {t['target']}: {t['value']} {t['unit']} ({t['op']} {t['limit']})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; all child processes were stopped", file=sys.stderr)
        sys.exit(130)
