"""A real server with promptctl on its request path, and a rollback across its workers.

    pip install -e '.[fleet]'          # gunicorn, uvicorn, fastapi: this bench only
    python bench/fleet.py [--trials 10] [--rounds 5] [--seconds 4] [--workers 4] [--connections 16]

Builds a prompt repo (bench-chat 1.0.0 stable, 1.1.0 as a 50 % canary) whose `publish:`
target is a folder served by a loopback static server (`python -m http.server`), and starts
gunicorn --preload with uvicorn workers running bench/fleet_app.py; every worker reads the
bundle by URL (refresh_interval 1 s) and logs calls to SQLite.

Request path: wrk (Debian's `wrk`, when on PATH; else a keep-alive asyncio client, which is
itself the bottleneck on a small machine) at 16 connections alternates /hard (a hardcoded
string), /bare (the template's bare Jinja render: the floor), /render (get + render) and
/prompt (get + render + track) in rounds, both with a distinct ?key= per
request; each figure is the median over rounds, with the workers' CPU per request read
from /proc.
Propagation: under load on /which, `promptctl rollback` (which commits, then publishes the
bundle into the served folder: temp file + rename); measured from the command's start and
from the publish (the bundle's mtime) to the last canary response. min / median / max over
the trials.

Targets: /prompt throughput >= 0.9x /hard; propagation after the publish <= refresh_interval + 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFRESH = 1.0
INPUTS = {"customer_name": "Ann", "question": "Where is my refund?", "vip": True,   # per request
          "orders": [{"id": f"A-{i}", "status": "shipped"} for i in range(3)]}
PROMPT = """\
name: bench-chat
model: {provider: echo, name: echo-1, params: {temperature: 0}}
inputs:
  customer_name: string
  question: string
  orders: list
  vip: boolean
  language: {type: string, default: en}
messages:
  - role: system
    content: "You are a support agent{{VERSION}}. Answer in {{ language }}.{% if vip %} The customer is a VIP: be generous.{% endif %}"
  - role: user
    content: |
      Customer: {{ customer_name }}
      Orders:
      {% for o in orders %}
      - {{ o.id }}: {{ o.status }}
      {% endfor %}
      Question: {{ question }}
"""


def promptctl(root: Path, *args: str) -> None:
    exe = shutil.which("promptctl", path=str(Path(sys.executable).parent)) or "promptctl"
    subprocess.run([exe, *args], cwd=root, check=True, capture_output=True)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def build_repo(root: Path, served: Path) -> None:
    os.environ.update({"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
                       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x"})
    git(root, "init", "-q", "-b", "main")
    (root / "promptctl.yaml").write_text(f"prompts_dir: prompts\npublish:\n  production:\n"
                                         f"    - path: {served}/\n")
    (root / "release.yaml").write_text("environments: {}\n")
    (root / ".gitignore").write_text(".promptctl/\n")
    (root / "prompts/bench-chat").mkdir(parents=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    for version, marker in (("1.0.0", ""), ("1.1.0", " (v1.1)")):
        (root / "prompts/bench-chat/prompt.yaml").write_text(PROMPT.replace("{{VERSION}}", marker))
        promptctl(root, "bump", "bench-chat", version, "-m", "bench")
    promptctl(root, "promote", "bench-chat", "1.0.0", "--env", "production")
    promptctl(root, "canary", "bench-chat", "1.1.0", "--env", "production", "--weight", "50")


def published_at(folder: Path) -> float:
    """When the last publish wrote the bundle (written to a temp file, then renamed)."""
    return (folder / "production.json").stat().st_mtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1."):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port} within {timeout} s")


# ---------------------------------------------------------------- load generator


async def _connection(port: int, path_for, until, seen: list | None, fresh: bool) -> int:
    """One client: keep-alive requests, or (`fresh`) a new connection per request, so the
    kernel spreads them over every worker."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while not until():
            if fresh and done:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path_for(done)} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"{path_for(done)}: {head.splitlines()[0].decode()} {body[:200]!r}")
            if seen is not None:
                seen.append((time.time(), body))
            done += 1
    finally:
        writer.close()
    return done


def load(port: int, path: str, seconds: float, connections: int, seen: list | None = None,
         *, keyed: bool = True, stop=None, fresh: bool = False) -> int:
    """Requests completed by `connections` clients in `seconds` (or until `stop` is set)."""
    async def run() -> int:
        end = time.monotonic() + seconds
        until = (lambda: (stop is not None and stop.is_set()) or time.monotonic() > end)
        tasks = [_connection(port, (lambda n, c=c: f"{path}?key=u{c}-{n % 500}") if keyed else
                             (lambda n: path), until, seen, fresh) for c in range(connections)]
        return sum(await asyncio.gather(*tasks))
    return asyncio.run(run())


WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "?key=u" .. (counter % 500))
end
"""


def wrk_load(port: int, path: str, seconds: float, connections: int, script: Path) -> tuple[int, float]:
    """(requests, latency p99 in ms) from one wrk run."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
                          str(script), f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    p99 = next(line for line in out.splitlines() if line.strip().startswith("99%")).split()[1]
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    unit = next(u for u in ("us", "ms", "s") if p99.endswith(u))
    return requests, float(p99[: -len(unit)]) * scale[unit]


def workers_cpu(master: int) -> float:
    """utime + stime (s) of the gunicorn master's children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


# ---------------------------------------------------------------- the two measurements


def request_path(port: int, master: int, rounds: int, seconds: float, connections: int,
                 script: Path | None) -> dict:
    figures: dict[str, list] = {"hard": [], "bare": [], "render": [], "prompt": []}
    for _ in range(rounds):                 # interleaved: a slower machine slows both alike
        for name in figures:
            cpu = workers_cpu(master)
            start = time.perf_counter()
            if script is not None:
                count, p99 = wrk_load(port, f"/{name}", seconds, connections, script)
            else:
                count, p99 = load(port, f"/{name}", seconds, connections), float("nan")
            wall = time.perf_counter() - start
            figures[name].append((count / wall, (workers_cpu(master) - cpu) / count * 1e6, p99))
    return {name: tuple(statistics.median(row[i] for row in rows) for i in range(3))
            for name, rows in figures.items()}


def propagation(root: Path, served: Path, port: int, connections: int) -> tuple[float, float]:
    import threading

    seen: list = []
    stop = threading.Event()
    runner = threading.Thread(target=load, args=(port, "/which", 120.0, connections, seen),
                              kwargs={"stop": stop, "fresh": True})
    runner.start()
    time.sleep(1.0)
    started = time.time()
    promptctl(root, "rollback", "bench-chat", "--env", "production", "-m", "bench")
    published = published_at(served)
    time.sleep(REFRESH + 2.0)               # long enough for the slowest worker to switch
    stop.set()
    runner.join()
    last_old = max((t for t, body in seen if body.startswith(b"canary")), default=float("nan"))
    workers = {body.split()[1] for t, body in seen if t > published}
    if len(workers) < 2 or not any(t > last_old for t, _ in seen):
        raise SystemExit(f"the rollback never reached every worker ({len(workers)} answered)")
    promptctl(root, "canary", "bench-chat", "1.1.0", "--env", "production", "--weight", "50")
    time.sleep(REFRESH + 2.0)               # every worker back on the canary before the next trial
    return last_old - started, last_old - published


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after the app is loaded (before gunicorn forks)")
    parser.add_argument("--call-log", default="calls.sqlite",
                        help="file name of the call log (.sqlite or .jsonl) in the temp folder, "
                             "or 'discard' (a sink that drops every batch)")
    args = parser.parse_args()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        raise SystemExit("needs the bench extra: pip install -e '.[fleet]'")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, served = tmp / "repo", tmp / "www"
        root.mkdir()
        served.mkdir()
        build_repo(root, served)
        static_port, app_port = free_port(), free_port()
        env = {**os.environ, "BENCH_BUNDLE_URL": f"http://127.0.0.1:{static_port}/production.json",
               "BENCH_CACHE_DIR": str(tmp / "cache"), "BENCH_CALL_LOG": str(tmp / args.call_log),
               "BENCH_REFRESH": str(REFRESH), "PYTHONPATH": str(HERE),
               **({"BENCH_GC_FREEZE": "1"} if args.gc_freeze else {})}
        static = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                   str(static_port), "--directory", str(served)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = None
        try:
            wait_http(static_port, "/production.json")
            server = subprocess.Popen([gunicorn, "--preload", "-w", str(args.workers), "-k",
                                       "uvicorn.workers.UvicornWorker", "-b", f"127.0.0.1:{app_port}",
                                       "--log-level", "warning", "fleet_app:app"], env=env, cwd=HERE)
            wait_http(app_port, "/health")
            load(app_port, "/prompt", 1.0, args.connections)          # warm-up
            script = None
            if shutil.which("wrk"):
                script = tmp / "keys.lua"
                script.write_text(WRK_SCRIPT)
            path = request_path(app_port, server.pid, args.rounds, args.seconds, args.connections,
                                script)
            trials = [propagation(root, served, app_port, args.connections) for _ in range(args.trials)]
        finally:
            for proc in (server, static):
                if proc is not None:
                    proc.terminate()
                    proc.wait(20)
    report(args, path, trials, "wrk" if script else "asyncio client")


def report(args, path: dict, trials: list, generator: str) -> None:
    print(f"gunicorn --preload, {args.workers} uvicorn workers, {args.connections} connections "
          f"({generator}), call log {args.call_log}{', gc.freeze()' if args.gc_freeze else ''}, "
          f"{args.rounds} interleaved rounds of "
          f"{args.seconds:g} s (medians)")
    for name, (rps, cpu, p99) in path.items():
        print(f"/{name:7} {rps:8.0f} req/s   {cpu:7.1f} us worker CPU per request   p99 {p99:.1f} ms")
    (hard_rps, hard_cpu, _), (prompt_rps, prompt_cpu, _) = path["hard"], path["prompt"]
    ratio = prompt_rps / hard_rps
    print(f"throughput ratio {ratio:.2f}x (target >= 0.90x); get+render+track adds "
          f"{prompt_cpu - hard_cpu:.1f} us CPU per request")
    bare_rps, bare_cpu, _ = path["bare"]
    print(f"floor: the bare Jinja render alone is {bare_rps / hard_rps:.2f}x /hard "
          f"(+{bare_cpu - hard_cpu:.1f} us CPU); get+render+track over it: "
          f"+{prompt_cpu - bare_cpu:.1f} us CPU")
    for label, values in (("command start", [a for a, _ in trials]), ("publish", [b for _, b in trials])):
        print(f"rollback propagation from {label:13}: min {min(values):.2f} s  median "
              f"{statistics.median(values):.2f} s  max {max(values):.2f} s  ({len(values)} trials)")
    worst = max(b for _, b in trials)
    print(f"target: after the publish <= refresh_interval + 1 s = {REFRESH + 1:.1f} s: "
          f"{'met' if worst <= REFRESH + 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
