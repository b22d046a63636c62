#!/usr/bin/env python3
"""What dumping a busy service costs its requests, and whether heapsnap should lower its CPU
priority once the target runs again.

Starts fixtures/load_service.py (a threaded HTTP service holding BALLAST small dicts, so that
each walk takes a while) and fixtures/load_client.py (CLIENTS threads sending requests back to
back), then, one phase after another: requests alone (`before`), DUMPS back-to-back dumps
(`dumps`), requests alone again, the same dumps run under `nice -n 10` (`dumps, nice 10`: the
walk then yields the CPU to the service), requests alone (`after`). Prints, per phase, the
requests answered, failures, and the p50/p99/max latency, and per dump phase the median wall
time of a dump. All on this machine (loopback only; bounded in time).

    python3 bench/load.py [--python PY] [--heapsnap BIN] [--ballast N] [--dumps N] [--clients N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python"))
    ap.add_argument("--heapsnap", default=os.path.join(ROOT, "target/release/heapsnap"))
    ap.add_argument("--ballast", type=int, default=300000)
    ap.add_argument("--dumps", type=int, default=30)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--quiet-seconds", type=float, default=5.0)
    args = ap.parse_args()
    fixtures = os.path.join(ROOT, "fixtures")
    service = subprocess.Popen([args.python, os.path.join(fixtures, "load_service.py"),
                                str(args.ballast)], stdout=subprocess.PIPE, text=True)
    client = None
    try:
        port = service.stdout.readline().split()[1]
        client = subprocess.Popen([args.python, os.path.join(fixtures, "load_client.py"), port,
                                   str(args.clients)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "ready"
        walls = {}
        failed_dumps = 0
        snap = os.path.join(tempfile.mkdtemp(), "s.json")

        def phase(name):
            client.stdin.write(name + "\n")
            client.stdin.flush()

        def dumps(name, prefix):
            nonlocal failed_dumps
            phase(name)
            times = []
            for _ in range(args.dumps):
                t0 = time.perf_counter()
                r = subprocess.run(prefix + [args.heapsnap, "dump", str(service.pid), "-q",
                                             "-o", snap], capture_output=True)
                times.append((time.perf_counter() - t0) * 1e3)
                failed_dumps += r.returncode != 0
            walls[name] = statistics.median(times)

        time.sleep(args.quiet_seconds)
        dumps("dumps", [])
        phase("between")
        time.sleep(args.quiet_seconds)
        dumps("dumps, nice 10", ["nice", "-n", "10"])
        phase("after")
        time.sleep(args.quiet_seconds)
        phase("stop")
        summary = json.loads(client.stdout.readline())
    finally:
        if client:
            client.kill()
        service.kill()
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print("Python %s service, %d ballast dicts, %d client threads, %d dumps per phase; failed "
          "dumps: %d" % (version, args.ballast, args.clients, args.dumps, failed_dumps))
    print()
    print("| phase | requests | failed | p50 ms | p99 ms | max ms | dump wall ms (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ["before", "dumps", "between", "dumps, nice 10", "after"]:
        p = summary.get(name)
        if not p:
            continue
        wall = "%.0f" % walls[name] if name in walls else ""
        print("| %s | %d | %d | %.2f | %.2f | %.1f | %s |" % (
            name, p["requests"], p["failed"], p["p50_ms"], p["p99_ms"], p["max_ms"], wall))
    return 1 if failed_dumps else 0


if __name__ == "__main__":
    sys.exit(main())
