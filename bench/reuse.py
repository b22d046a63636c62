#!/usr/bin/env python3
"""How often `heapsnap diff` takes a new object for an old one because the allocator reused a
freed address (issue 12.4). Measured, not a test: run by hand.

Starts fixtures/reuse_service.py, serves WARMUP requests (the session cache fills and churns),
then: the service's own list of its Session/Leaked objects (id → serial number) and a dump;
REQUESTS more requests; the same again; `heapsnap diff --json --all`. Truth: an object is new
when its serial was not alive in the first list; an address "reused" when it held an object
of the same type in both lists with different serials. Prints per type: objects new in truth,
new per heapsnap's diff, addresses reused.

    python3 bench/reuse.py [--python PY ...] [--heapsnap BIN] [--requests N] [--warmup N]
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(python, heapsnap, warmup, requests, tmp):
    service = subprocess.Popen([python, os.path.join(ROOT, "fixtures", "reuse_service.py")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout.readline().startswith("ready")

        def ask(line):
            service.stdin.write(line + "\n")
            service.stdin.flush()
            assert service.stdout.readline().strip() == "ok"

        def snapshot(name):
            ask("truth " + os.path.join(tmp, name + ".truth"))
            path = os.path.join(tmp, name + ".json")
            subprocess.run([heapsnap, "dump", str(service.pid), "-q", "-o", path], check=True)
            with open(os.path.join(tmp, name + ".truth")) as f:
                return path, json.load(f)

        ask("requests %d" % warmup)
        a, truth_a = snapshot("a")
        ask("requests %d" % requests)
        b, truth_b = snapshot("b")
        diff = json.loads(subprocess.run([heapsnap, "diff", a, b, "--json", "--all"],
                                         check=True, capture_output=True, text=True).stdout)
    finally:
        service.kill()
    rows = {r["name"]: r for r in diff["rows"]}
    alive_a = {tuple(v) for v in truth_a.values()}
    out = []
    for kind in ("Session", "Leaked"):
        new = sum(1 for v in truth_b.values() if v[0] == kind and tuple(v) not in alive_a)
        reused = sum(1 for addr, v in truth_b.items()
                     if v[0] == kind and addr in truth_a and truth_a[addr][0] == kind
                     and truth_a[addr][1] != v[1])
        row = rows.get("__main__." + kind, {})
        out.append((kind, new, row.get("new_objects", 0), reused))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append",
                    default=None, help="interpreters (default: pyenv 2.7.18, 3.8.18, 3.12.1)")
    ap.add_argument("--heapsnap", default=os.path.join(ROOT, "target/release/heapsnap"))
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    pythons = args.python or [os.path.expanduser("~/.pyenv/versions/%s/bin/python" % v)
                              for v in ("2.7.18", "3.8.18", "3.12.1")]
    print("| Python | type | new (truth) | new (heapsnap diff) | addresses reused |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for python in pythons:
            version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True).stdout.strip()
            for kind, new, seen, reused in measure(python, args.heapsnap, args.warmup,
                                                   args.requests, tmp):
                print("| %s | %s | %d | %d | %d |" % (version, kind, new, seen, reused))


if __name__ == "__main__":
    main()
