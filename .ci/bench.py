"""Scope Doctor's benchmark: gunicorn in production mode, driven by wrk.

Run it with `make bench` (or `make bench-smoke` for a one-second pass per
target). For each database (PostgreSQL and SQLite) it prepares a throwaway
database with the project's own commands, starts gunicorn with 2 x cores + 1
workers on a loopback port, and measures every target with wrk from a second
process. Throughput is reported as a ratio to a hashed static file served by
whitenoise, measured in the same run, because absolute numbers on a shared
machine mean little. The results go to bench-results/ as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv/bin/python"
GUNICORN = ROOT / ".venv/bin/gunicorn"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
# A database number of its own, flushed by nobody: stamps are keyed per database.
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
SCALED_TARGETS = ("c_wizard_step", "d_fix_page", "e_api_check")


@dataclass
class Result:
    target: str
    url: str
    requests_per_second: float
    median_ms: float
    p99_ms: float
    errors: int
    requests: int
    ratio_to_static: float = 0.0


@dataclass
class DatabaseRun:
    database: str
    workers: int
    redis: bool = False
    results: list[Result] = field(default_factory=list)
    scaled: list[Result] = field(default_factory=list)
    first_visit_bytes: dict[str, int] = field(default_factory=dict)
    swap_bytes: int = 0
    two_instances: dict[str, float] = field(default_factory=dict)


def redis_answers(url: str | None) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(PYTHON), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


@contextlib.contextmanager
def database(kind: str, pg_url: str):
    """Yield a DATABASE_URL for a throwaway database, and drop it afterwards."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="scopedoctor-bench-")
        try:
            yield f"sqlite:///{folder}/bench.sqlite3"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return

    import psycopg

    name = f"scopedoctor_bench_{os.getpid()}"
    parts = urllib.parse.urlsplit(pg_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_env(database_url: str, static_root: str, redis_url: str | None) -> dict:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no TLS in front of gunicorn here.
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": static_root,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int):
    port = free_port()
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--config",
            "python:troubleshooter.gunicorn_config",
            "troubleshooter.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"gunicorn stopped while starting:\n{process.stderr.read()}"
            )
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise SystemExit("gunicorn did not answer within 60 seconds")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.read(), dict(response.headers)


def targets(base: str, static_root: str) -> dict[str, str]:
    manifest = json.loads((Path(static_root) / "staticfiles.json").read_text())
    hashed_css = manifest["paths"]["css/site.css"]
    every_admin_scope = json.loads(
        fetch(base + "/api/v1/scopes?key_type=admin")[1].decode()
    )["scopes"]
    # Comma-separated and unescaped, so all 133 Admin scopes fit in gunicorn's
    # 4 KB request line.
    simulator = "key_type=admin&scopes=" + ",".join(
        s["name"] for s in every_admin_scope
    )
    return {
        "a_static_file": f"{base}/static/{hashed_css}",
        "b_home": f"{base}/",
        "c_wizard_step": f"{base}/diagnose/completions/?key_type=workspace_service",
        "d_fix_page": (
            f"{base}/fix/?scenario=completions&context=code&key_type=workspace_service"
            "&method=POST&path=/v1/chat/completions&scopes=logs.view"
        ),
        "e_api_check": (
            f"{base}/api/v1/check?method=POST&path=/v1/chat/completions"
            "&key_type=workspace_service&scopes=completions.write"
        ),
        "f_endpoint_matrix": f"{base}/reference/endpoints/",
        "g_simulator_all_scopes": f"{base}/keys/simulator/?{simulator}",
        "h_search": f"{base}/search/?q=rotate+key",
    }


WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(name: str, url: str, duration: int, connections: int) -> Result:
    status, _, _ = fetch(url)
    if status != 200:
        raise SystemExit(f"{name}: {url} answered {status} before the run")
    # Warm every worker first (snapshot, page cache); this run is discarded.
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{min(2, duration)}s", url],
        check=True,
        capture_output=True,
    )
    output = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    latencies = {
        percent: float(value) * UNITS[unit]
        for percent, value, unit in WRK_LATENCY.findall(output)
    }
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(
        target=name,
        url=url,
        requests_per_second=float(
            re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)
        ),
        median_ms=latencies.get("50", 0.0),
        p99_ms=latencies.get("99", 0.0),
        errors=errors,
        requests=requests,
    )


def transfer_sizes(base: str) -> tuple[dict[str, int], int]:
    """Bytes of a first visit to the home page and of one htmx swap, as served
    to a browser that accepts compression."""
    accept = {"Accept-Encoding": "gzip, br"}
    _, html, headers = fetch(base + "/", accept)
    sizes = {"html": len(html)}
    text = gzip.decompress(html) if headers.get("Content-Encoding") == "gzip" else html
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js|svg))"', text)
    for asset in dict.fromkeys(assets):
        _, body, _ = fetch(base + asset.decode(), accept)
        kind = asset.decode().rsplit(".", 1)[1]
        sizes[kind] = sizes.get(kind, 0) + len(body)
    sizes["total"] = sum(v for k, v in sizes.items() if k != "total")

    _, swap, _ = fetch(
        base
        + "/diagnose/completions/?key_type=workspace_service&target=POST+/v1/chat/completions",
        {**accept, "HX-Request": "true"},
    )
    return sizes, len(swap)


def bench_database(kind: str, args, workers: int) -> DatabaseRun:
    run = DatabaseRun(database=kind, workers=workers)
    static_root = tempfile.mkdtemp(prefix="scopedoctor-static-")
    try:
        with database(kind, args.pg_url) as database_url:
            # Redis goes with PostgreSQL only: it is what several app servers
            # share, while a SQLite file serves one machine on its own.
            redis_url = args.redis_url if kind == "postgres" else None
            run.redis = redis_url is not None
            env = production_env(database_url, static_root, redis_url)
            print(f"\n== {kind}: preparing the database and static files", flush=True)
            manage(env, "migrate", "--no-input", "-v", "0")
            manage(env, "load_reference", "-v", "0")
            manage(env, "collectstatic", "--no-input", "-v", "0")

            with gunicorn(env, workers) as base:
                urls = targets(base, static_root)
                run.first_visit_bytes, run.swap_bytes = transfer_sizes(base)
                for name, url in urls.items():
                    result = run_wrk(name, url, args.duration, args.connections)
                    run.results.append(result)
                    print(
                        f"   {name:<24} {result.requests_per_second:>9.0f} req/s",
                        flush=True,
                    )

            print(f"== {kind}: a dataset ten times larger", flush=True)
            manage(
                env,
                "shell",
                "-c",
                "from tests.datasets import add_copies; add_copies(9)",
            )
            with gunicorn(env, workers) as base:
                urls = targets(base, static_root)
                for name in SCALED_TARGETS:
                    result = run_wrk(name, urls[name], args.duration, args.connections)
                    run.scaled.append(result)

            if args.two_instances and kind == "postgres" and args.redis_url:
                run.two_instances = two_instances(env, workers, args)
    finally:
        shutil.rmtree(static_root, ignore_errors=True)

    static = next(r for r in run.results if r.target == "a_static_file")
    for result in run.results:
        result.ratio_to_static = result.requests_per_second / static.requests_per_second
    return run


def two_instances(env: dict, workers: int, args) -> dict[str, float]:
    """One instance, then two on two ports over the same PostgreSQL and Redis,
    each driven by its own wrk at the same time."""
    path = "/api/v1/check?method=POST&path=/v1/chat/completions&key_type=workspace_user"
    with gunicorn(env, workers) as one:
        single = run_wrk("one", one + path, args.duration, args.connections)
    with gunicorn(env, workers) as first, gunicorn(env, workers) as second:
        commands = [
            subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    f"-c{args.connections // 2}",
                    f"-d{args.duration}s",
                    base + path,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for base in (first, second)
        ]
        outputs = [command.communicate()[0] for command in commands]
    combined = sum(
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) for out in outputs
    )
    return {"one_instance": single.requests_per_second, "two_instances": combined}


def markdown(runs: list[DatabaseRun]) -> str:
    lines = []
    for run in runs:
        lines += [
            f"### {run.database}{' + Redis' if run.redis else ''} "
            f"({run.workers} gunicorn workers)",
            "",
            "| target | req/s | ratio to static | median ms | p99 ms | p99/median | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in run.results:
            spread = r.p99_ms / r.median_ms if r.median_ms else 0.0
            lines.append(
                f"| {r.target} | {r.requests_per_second:.0f} | {r.ratio_to_static:.2f} | "
                f"{r.median_ms:.2f} | {r.p99_ms:.2f} | {spread:.1f} | {r.errors} |"
            )
        lines += [
            "",
            "| ten times the data | req/s | ratio to normal data | errors |",
            "|---|---:|---:|---:|",
        ]
        normal = {r.target: r for r in run.results}
        for r in run.scaled:
            ratio = r.requests_per_second / normal[r.target].requests_per_second
            lines.append(
                f"| {r.target} | {r.requests_per_second:.0f} | {ratio:.2f} | {r.errors} |"
            )
        sizes = ", ".join(f"{k} {v} B" for k, v in run.first_visit_bytes.items())
        lines += [
            "",
            f"First visit to the home page: {sizes}.",
            f"One htmx wizard swap: {run.swap_bytes} B.",
            "",
        ]
        if run.two_instances:
            one, two = (
                run.two_instances["one_instance"],
                run.two_instances["two_instances"],
            )
            lines += [
                f"Scale-out (same PostgreSQL and Redis): one instance {one:.0f} req/s, "
                f"two instances {two:.0f} req/s combined ({two / one:.2f}x). On two cores "
                "this shows the overhead of a second instance rather than a gain.",
                "",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one second per target: proves the benchmark works, measures nothing",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--databases", default="postgres,sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help="Redis for the PostgreSQL run, as in production; used when it answers",
    )
    parser.add_argument(
        "--no-redis", action="store_true", help="PostgreSQL alone, without Redis"
    )
    parser.add_argument("--two-instances", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()
    if args.smoke:
        args.duration = 1

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run 'make bench' (it installs Debian's wrk).")
    if args.no_redis or not redis_answers(args.redis_url):
        if not args.no_redis:
            print(f"Redis does not answer at {args.redis_url}: PostgreSQL runs alone.")
        args.redis_url = None
    workers = 2 * (os.cpu_count() or 1) + 1
    runs = [bench_database(kind, args, workers) for kind in args.databases.split(",")]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps([asdict(r) for r in runs], indent=2))
    table = markdown(runs)
    (out / "bench.md").write_text(table + "\n")
    print("\n" + table)
    print(f"Results written to {out}/bench.json and {out}/bench.md")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
