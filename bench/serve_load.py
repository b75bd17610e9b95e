r"""Bounded load test of the HTTP service on localhost: N clients for T seconds, then it stops by itself.

    python bench/serve_load.py --checkpoint saved/SemNISER_F-....pth --clients 4 --seconds 60 \
        --output docs/results/serve_load_beauty.md

Starts `python -m recbole_semsr.serve` on 127.0.0.1 (a free port) as a child process, waits for `/health`, then
`--clients` threads each send `POST /recommend` requests (one test-file session each, drawn with `--seed`; every
`--bad_every`-th request of a client is malformed on purpose and must get a 4xx) back to back over one keep-alive
connection until `--seconds` have passed. Reports p50 / p99 latency of the good requests, their throughput, the
errors (a good request not answered 200, a bad one not answered 4xx, or a failed connection) and the server's
resident memory sampled every `--sample_every` seconds (first sample after the warm-up, peak, last). Stops the
server it started (and only it) at the end.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

HOST = "127.0.0.1"
MALFORMED = (b'{"items": ["x"', b'{"items": [1, 2]}', b'{"items": ["x"], "k": 0}')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the server")
    parser.add_argument("--bad_every", type=int, default=20, help="every n-th request of a client is malformed")
    parser.add_argument("--sample_every", type=float, default=1.0, help="seconds between memory samples")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before the clients start")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_path", default=None)
    parser.add_argument("--output", type=Path, default=None, help="also write the report here")
    return parser.parse_args(argv)


@dataclass
class ClientLog:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rejected: int = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "recbole_semsr.serve", f"--checkpoint={args.checkpoint}", f"--host={HOST}",
               f"--port={port}", "--device=cpu"]
    command += [f"--threads={args.threads}"] if args.threads else []
    command += [f"--data_path={args.data_path}"] if args.data_path else []
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_health(server: subprocess.Popen, port: int, timeout: float = 600.0) -> dict:
    """The server's /health answer, once it answers (the model loads first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: the server stopped: {server.stdout.read().strip()}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/health")
            return json.loads(connection.getresponse().read())
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"error: the server did not answer /health within {timeout:.0f} s")


def session_bodies(health: dict, k: int, seed: int) -> list[bytes]:
    """Request bodies of the test-file sessions of the served dataset (shuffled with `seed`)."""
    folder = Path(health["data_folder"])
    lines = (folder / f"{health['dataset']}.test.inter").read_text(encoding="utf-8").splitlines()[1:]
    rng = random.Random(seed)
    rng.shuffle(lines)
    return [json.dumps({"items": line.split("\t")[1].split(" "), "k": k}).encode() for line in lines]


def post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", "/recommend", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def client(port: int, bodies: list[bytes], deadline: float, bad_every: int, offset: int, log: ClientLog) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    count = 0
    while time.monotonic() < deadline:
        count += 1
        bad = bad_every > 0 and count % bad_every == 0
        body = MALFORMED[count % len(MALFORMED)] if bad else bodies[(offset + count) % len(bodies)]
        start = time.perf_counter()
        try:
            status = post(connection, body)
        except (OSError, http.client.HTTPException) as error:
            log.errors.append(f"{type(error).__name__}: {error}")
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        if bad:
            log.rejected += 400 <= status < 500
            if not 400 <= status < 500:
                log.errors.append(f"malformed request answered {status}")
        elif status == 200:
            log.latencies_ms.append((time.perf_counter() - start) * 1000)
        else:
            log.errors.append(f"request answered {status}")


def sample_memory(process: psutil.Process, stop: threading.Event, every: float, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(process.memory_info().rss / 2**20)
        stop.wait(every)


def load_test(args: argparse.Namespace, port: int, health: dict, server_pid: int) -> dict:
    bodies = session_bodies(health, args.k, args.seed)
    warmup = http.client.HTTPConnection(HOST, port, timeout=60)
    for body in bodies[:args.warmup]:
        post(warmup, body)
    logs = [ClientLog() for _ in range(args.clients)]
    stop, memory = threading.Event(), []
    sampler = threading.Thread(target=sample_memory, args=(psutil.Process(server_pid), stop, args.sample_every,
                                                           memory))
    deadline = time.monotonic() + args.seconds
    clients = [threading.Thread(target=client, args=(port, bodies, deadline, args.bad_every, index * 7919, log))
               for index, log in enumerate(logs)]
    started = time.perf_counter()
    sampler.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    latencies = [value for log in logs for value in log.latencies_ms]
    return {"requests": len(latencies), "seconds": elapsed, "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)), "per_second": len(latencies) / elapsed,
            "rejected_as_expected": sum(log.rejected for log in logs),
            "errors": [error for log in logs for error in log.errors],
            "rss_first_mib": memory[0], "rss_peak_mib": max(memory), "rss_last_mib": memory[-1],
            "rss_samples": len(memory)}


def report(result: dict, health: dict, args: argparse.Namespace, argv: list[str]) -> str:
    errors = result["errors"]
    return "\n".join([
        f"Command: `python bench/serve_load.py {' '.join(shlex.quote(arg) for arg in argv)}`",
        f"Served: {health['model']} on {health['dataset']} ({health['n_items']:,} items), {HOST}, "
        f"{args.clients} clients for {args.seconds:g} s, k = {args.k}.",
        "",
        "| requests (200) | p50 ms | p99 ms | requests/s | malformed, answered 4xx | errors | RSS MiB first / peak / "
        "last |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {result['requests']:,} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['per_second']:.1f} | "
        f"{result['rejected_as_expected']} | {len(errors)} | {result['rss_first_mib']:.0f} / "
        f"{result['rss_peak_mib']:.0f} / {result['rss_last_mib']:.0f} ({result['rss_samples']} samples) |",
        "",
        *([f"First errors: {errors[:3]}", ""] if errors else []),
    ])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    port = free_port()
    server = start_server(args, port)
    try:
        health = wait_for_health(server, port)
        result = load_test(args, port, health, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = report(result, health, args, argv)
    print(text)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
