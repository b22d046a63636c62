#!/usr/bin/env python3
"""heapsnap benchmark driver (run it through bench/run, which builds heapsnap first).

For each interpreter (3.11.7, 3.12.1 by default) and each target heap (W1/4, W1, W4: 75,000,
300,000 and 1,200,000 instances of bench/target.py's Item, about 4 live objects each), measured
in the same run, side by side, each REPS times (median reported):

  raw copy    examples/raw_copy <pid>: heapsnap's own copy (CopyPlan::prepare before the stop,
              then stopped: read_maps + Image::copy_process), resume, walk nothing: the floor
              of heapsnap's pause; and `raw_copy <pid> --naive`: every byte of every writable
              mapping into buffers allocated while stopped, the straightforward copy;
  heapsnap    `heapsnap dump <pid> --quiet -o snap.json` (--mode full, then --mode gc): the
              target's pause as its own 1 ms ticking thread saw it (longest gap between ticks),
              heapsnap's pause_ms / walk_ms (snapshot meta), wall time of the command, peak RSS
              of heapsnap (GNU time), snapshot size;
  nonblocking `--nonblocking` on the same still target (pause, census difference), then on a
              target that mutates its heap without end (census difference from a blocking dump
              taken just before, failures, exit codes);
  peers       in-process tools run inside a fresh target each time, timed there with
              time.perf_counter: guppy3 hpy().heap() + str(), pympler muppy.get_objects() +
              summary.summarize(), objgraph show_most_common_types(), gc.get_objects() + count
              by type + sys.getsizeof ("gc-count"), and the gc.get_referents() closure
              ("gc-closure", the object set of --mode gc).

Prints the tables on stdout (progress on stderr), writes the raw figures to
target/bench/latest.json and the tables with the machine's details into docs/benchmarks.md,
between the markers <!-- bench:begin --> and <!-- bench:end --> (text outside them is kept).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# bench/run builds into a target directory of its own and says where (HEAPSNAP_BENCH_BIN).
BIN = os.environ.get("HEAPSNAP_BENCH_BIN") or os.path.join(ROOT, "target", "release")
HEAPSNAP = os.path.join(BIN, "heapsnap")
RAW_COPY = os.path.join(BIN, "examples", "raw_copy")
WALK_TOUCH = os.path.join(BIN, "examples", "walk_touch")
TARGET = os.path.join(ROOT, "bench", "target.py")
REQUIREMENTS = os.path.join(ROOT, "bench", "requirements.txt")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
RESULTS_DIR = os.path.join(ROOT, "target", "bench")

WORKLOADS = {"q": ("W1/4", 75_000), "1": ("W1", 300_000), "4": ("W4", 1_200_000)}
# The big-heap comparison (issue 14): W1 against W16 (20 million objects, ~1.9 GB), on one build.
BIG = [("W1", 300_000), ("W16", 5_000_000)]
# Back-to-back pairs of dumps with and without retained sizes, per workload.
COST_PAIRS = 7
PEERS = ["guppy", "pympler", "objgraph", "gccount", "gcclosure"]
PEER_TITLES = {
    "guppy": "guppy3 hpy().heap() + str()",
    "pympler": "pympler muppy.get_objects() + summary.summarize()",
    "objgraph": "objgraph show_most_common_types()",
    "gccount": "gc.get_objects() + count by type + sys.getsizeof",
    "gcclosure": "gc.get_objects() + closure of gc.get_referents() + count + getsizeof",
}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------------------------
# Virtualenvs


def ensure_venv(version, pyenv_root, cache):
    """One cached venv per interpreter with the peers; rebuilt only when its key changes."""
    base = os.path.join(pyenv_root, "versions", version, "bin", "python")
    if not os.path.exists(base):
        raise SystemExit("bench: no interpreter at %s" % base)
    short = ".".join(version.split(".")[:2])
    venv = os.path.join(cache, "bench-venv-%s" % short)
    py = os.path.join(venv, "bin", "python")
    with open(REQUIREMENTS, "rb") as f:
        req_hash = hashlib.sha256(f.read()).hexdigest()
    key = {"python": base, "version": version, "requirements": req_hash}
    marker = os.path.join(venv, "heapsnap-bench.json")
    try:
        with open(marker) as f:
            info = json.load(f)
        if info.get("key") == key and os.path.exists(py):
            return py, info
    except (OSError, ValueError):
        pass
    log("creating %s" % venv)
    shutil.rmtree(venv, ignore_errors=True)
    os.makedirs(cache, exist_ok=True)
    subprocess.run([base, "-m", "venv", venv], check=True)
    subprocess.run(
        [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS],
        check=True,
    )
    probe = (
        "import sys, json, importlib.metadata as m; print(json.dumps({'sys_version': sys.version, "
        "'packages': {n: m.version(n) for n in ('guppy3', 'Pympler', 'objgraph')}}))"
    )
    info = json.loads(subprocess.check_output([py, "-c", probe], text=True))
    info["key"] = key
    with open(marker, "w") as f:
        json.dump(info, f)
    return py, info


# --------------------------------------------------------------------------------------------
# Processes


class Target:
    """bench/target.py running under `python`, spoken to over stdin/stdout lines."""

    def __init__(self, python, n, mutate=None):
        argv = [python, TARGET, str(n)] + (["--mutate", str(mutate)] if mutate is not None else [])
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True
        )
        line = self.p.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError("target did not start: %r %s" % (line, self._stderr()))
        self.pid = int(line.split()[1])

    def _stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")[-2000:]

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("target died on %r: %s" % (cmd, self._stderr()))
        return line.strip()

    def reset(self):
        self.ask("reset")

    def gap_ms(self):
        time.sleep(0.02)  # let the ticker take the tick that closes the gap
        return float(self.ask("gap").split()[1])

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()
            self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


GNU_TIME = "/usr/bin/time"


def run_measured(argv, timeout=600):
    """Run argv; wall time, exit code, peak RSS, stdout, stderr.

    The peak RSS comes from GNU time when it is there: the rusage of a child of this driver is
    not enough, because Linux carries the RSS high-water mark of the process that exec'd into
    the child's figure (with vfork, the driver's own peak: after it parsed a big snapshot, every
    later child would report at least that). Without GNU time, wait4's rusage is used.
    """
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    rss_file = None
    if os.path.exists(GNU_TIME):
        fd, rss_file = tempfile.mkstemp(prefix="heapsnap-bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, "--"] + list(argv)
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=out, stderr=err)
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    maxrss_kb = ru.ru_maxrss
    if rss_file:
        try:
            with open(rss_file) as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
            maxrss_kb = int(lines[-1])
        except (OSError, ValueError, IndexError):
            pass
        os.remove(rss_file)
    out.seek(0)
    err.seek(0)
    return {
        "rc": p.returncode,
        "wall_ms": wall * 1e3,
        "maxrss_kb": maxrss_kb,
        "user_ms": ru.ru_utime * 1e3,
        "sys_ms": ru.ru_stime * 1e3,
        "stdout": out.read().decode(errors="replace"),
        "stderr": err.read().decode(errors="replace").strip(),
    }


def snapshot_meta(path):
    """The "meta" object of a snapshot, without parsing the rest (it can be 100 MB: parsing it
    would grow this driver by several times that)."""
    with open(path) as f:
        head = f.read(1 << 16)
    at = head.find('"meta"')
    if at >= 0:
        brace = head.find("{", at)
        try:
            return json.JSONDecoder().raw_decode(head, brace)[0]
        except ValueError:
            pass
    with open(path) as f:
        return json.load(f)["meta"]


# --------------------------------------------------------------------------------------------
# Measurements


def idle_gap(target, seconds=1.0):
    target.reset()
    time.sleep(seconds)
    return target.gap_ms()


def raw_copy(target, naive=False):
    target.reset()
    r = run_measured([RAW_COPY, str(target.pid)] + (["--naive"] if naive else []))
    gap = target.gap_ms()
    if r["rc"] != 0:
        return {"rc": r["rc"], "error": r["stderr"], "gap_ms": gap}
    j = json.loads(r["stdout"])
    j.update(rc=0, gap_ms=gap, wall_ms=r["wall_ms"], maxrss_kb=r["maxrss_kb"])
    return j


def walk_touch(target):
    """examples/walk_touch: how much of the copy a walk reads (the case for a page cache)."""
    r = run_measured([WALK_TOUCH, str(target.pid)])
    if r["rc"] != 0:
        return {"rc": r["rc"], "error": r["stderr"]}
    j = json.loads(r["stdout"])
    j["rc"] = 0
    return j


def dump(target, tmpdir, mode="full", nonblocking=False, extra=()):
    snap = os.path.join(tmpdir, "snap.json")
    argv = [HEAPSNAP, "dump", str(target.pid), "--quiet", "--mode", mode, "-o", snap]
    if nonblocking:
        argv.append("--nonblocking")
    argv.extend(extra)
    target.reset()
    r = run_measured(argv)
    res = {
        "rc": r["rc"],
        "gap_ms": target.gap_ms(),
        "wall_ms": r["wall_ms"],
        "maxrss_kb": r["maxrss_kb"],
        "user_ms": r["user_ms"],
        "sys_ms": r["sys_ms"],
    }
    errors = [l for l in r["stderr"].splitlines() if "error" in l]
    if errors:
        res["error"] = errors[-1]
    if r["rc"] == 0:
        meta = snapshot_meta(snap)
        res["snapshot_bytes"] = os.path.getsize(snap)
        for k in ("objects", "bytes", "pause_ms", "walk_ms", "copied_bytes", "threads"):
            res[k] = meta.get(k)
    if os.path.exists(snap):
        os.remove(snap)
    return res


def peer(python, n, name):
    with Target(python, n) as t:
        rss_before = t.rss_kb()
        r = json.loads(t.ask("peer " + name))
        r["target_rss_kb"] = rss_before
        r["target_rss_after_kb"] = t.rss_kb()
        return r


def measure_workload(python, n, reps, peers, mutate_rates, tmpdir):
    res = {"n": n}
    log("  heapsnap: %d reps of raw copy / dump full / dump gc / dump --nonblocking" % reps)
    with Target(python, n) as t:
        res["target_rss_kb"] = t.rss_kb()
        res["idle_gap"] = [idle_gap(t) for _ in range(reps)]
        res["raw"], res["raw_naive"], res["full"], res["gc"], res["nb"] = [], [], [], [], []
        res["lean"] = []
        # One unmeasured dump first: a target that has just built its heap, and a heapsnap
        # binary and libpython not yet in the page cache, make the first run an outlier.
        dump(t, tmpdir, "full")
        res["touch"] = walk_touch(t)
        for _ in range(reps):
            res["raw"].append(raw_copy(t))
            res["raw_naive"].append(raw_copy(t, naive=True))
            res["full"].append(dump(t, tmpdir, "full"))
            res["lean"].append(dump(t, tmpdir, "full", extra=["--no-retained"]))
            res["gc"].append(dump(t, tmpdir, "gc"))
            res["nb"].append(dump(t, tmpdir, "full", nonblocking=True))
        # What the retained sizes cost: back-to-back pairs, so that the machine's drift over
        # the run moves both dumps of a pair alike.
        log("  heapsnap: %d pairs of dump -o --no-retained / dump -o" % COST_PAIRS)
        res["cost_pairs"] = [
            (dump(t, tmpdir, "full", extra=["--no-retained"]), dump(t, tmpdir, "full"))
            for _ in range(COST_PAIRS)
        ]
    res["mut"] = {}
    for rate in mutate_rates:
        log("  --nonblocking on a target mutating at %s: %d pairs"
            % ("full speed" if rate == 0 else "%d replacements/s" % rate, reps))
        pairs = res["mut"][rate] = []
        with Target(python, n, mutate=rate) as t:
            time.sleep(0.3)
            for _ in range(reps):
                b = dump(t, tmpdir, "full")
                m0, t0 = int(t.ask("mut").split()[1]), time.perf_counter()
                nb = dump(t, tmpdir, "full", nonblocking=True)
                m1, t1 = int(t.ask("mut").split()[1]), time.perf_counter()
                nb["mutations_per_s"] = (m1 - m0) / (t1 - t0)
                pairs.append({"blocking": b, "nonblocking": nb})
    res["peers"] = {}
    for name in peers:
        log("  peer %s: %d fresh targets" % (name, reps))
        res["peers"][name] = [peer(python, n, name) for _ in range(reps)]
    return res


# --------------------------------------------------------------------------------------------
# Summaries


def summarize(res):
    """Medians of one interpreter x workload."""
    ok = lambda runs: [r for r in runs if r.get("rc") == 0]  # noqa: E731
    s = {"n": res["n"], "target_rss_mb": res["target_rss_kb"] * 1024 / 1e6}
    s["idle_gap_ms"] = med(res["idle_gap"])
    raw = ok(res["raw"])
    s["raw_ms"] = med([r["pause_ms"] for r in raw])
    s["raw_gap_ms"] = med([r["gap_ms"] for r in raw])
    s["raw_mb"] = med([r["bytes"] for r in raw]) / 1e6 if raw else None
    touch = res.get("touch", {})
    s["touched_pct"] = touch.get("touched_pct")
    s["touched_mb"] = touch["touched_bytes"] / 1e6 if "touched_bytes" in touch else None
    # Faulting in the buffers, then stopping, copying, resuming: the least any census that
    # copies the heap spends before it walks anything.
    s["raw_floor_ms"] = med([r["prepare_ms"] + r["total_ms"] for r in raw if "prepare_ms" in r])
    naive = ok(res.get("raw_naive", []))
    s["naive_ms"] = med([r["pause_ms"] for r in naive])
    s["naive_gap_ms"] = med([r["gap_ms"] for r in naive])
    s["naive_mb"] = med([r["bytes"] for r in naive]) / 1e6 if naive else None
    for mode in ("full", "gc", "lean"):
        runs = ok(res.get(mode, []))
        s[mode + "_fail"] = len(res[mode]) - len(runs)
        s[mode + "_errors"] = sorted({r.get("error", "rc %d" % r["rc"]) for r in res[mode] if r["rc"]})
        s[mode + "_objects"] = med([r["objects"] for r in runs])
        s[mode + "_gap_ms"] = med([r["gap_ms"] for r in runs])
        s[mode + "_pause_ms"] = med([r["pause_ms"] for r in runs])
        s[mode + "_walk_ms"] = med([r["walk_ms"] for r in runs])
        s[mode + "_wall_ms"] = med([r["wall_ms"] for r in runs])
        s[mode + "_rss_mb"] = med([r["maxrss_kb"] * 1024 / 1e6 for r in runs])
        s[mode + "_snap_mb"] = med([r["snapshot_bytes"] / 1e6 for r in runs])
    pairs = [(lean, full) for lean, full in res.get("cost_pairs", [])
             if lean["rc"] == 0 and full["rc"] == 0]
    s["cost_lean_wall_ms"] = med([lean["wall_ms"] for lean, _ in pairs])
    s["cost_full_wall_ms"] = med([full["wall_ms"] for _, full in pairs])
    s["cost_ratio"] = med([full["wall_ms"] / lean["wall_ms"] for lean, full in pairs])
    s["cost_pairs"] = len(pairs)
    nb = ok(res["nb"])
    s["nb_fail"] = len(res["nb"]) - len(nb)
    s["nb_gap_ms"] = med([r["gap_ms"] for r in nb])
    s["nb_wall_ms"] = med([r["wall_ms"] for r in nb])
    if nb and s["full_objects"]:
        s["nb_still_diff_pct"] = med(
            [100.0 * (r["objects"] - s["full_objects"]) / s["full_objects"] for r in nb]
        )
    s["mut"] = {}
    for rate, pairs in res.get("mut", {}).items():
        diffs, rcs, errs = [], [], set()
        for p in pairs:
            b, n = p["blocking"], p["nonblocking"]
            rcs.append(n["rc"])
            if n["rc"] != 0:
                errs.add(n.get("error", "rc %d" % n["rc"]))
            if b["rc"] == 0 and n["rc"] == 0:
                diffs.append(100.0 * (n["objects"] - b["objects"]) / b["objects"])
        s["mut"][rate] = {
            "diff_pct": med([abs(d) for d in diffs]),
            "diffs": diffs,
            "rcs": rcs,
            "errors": sorted(errs),
            "blocking_fail": sum(1 for p in pairs if p["blocking"]["rc"] != 0),
            "rate": med([p["nonblocking"].get("mutations_per_s") for p in pairs]),
            "nb_wall_ms": med([p["nonblocking"]["wall_ms"] for p in pairs]),
        }
    s["peers"] = {}
    for name, runs in res.get("peers", {}).items():
        good = [r for r in runs if "error" not in r]
        s["peers"][name] = {
            "ms": med([r["total_ms"] for r in good]),
            "census_ms": med([r["census_ms"] for r in good]),
            "print_ms": med([r.get("print_ms") for r in good]),
            "objects": med([r.get("objects") for r in good]),
            "errors": sorted({r["error"] for r in runs if "error" in r}),
            "rss_growth_mb": med(
                [(r["target_rss_after_kb"] - r["target_rss_kb"]) * 1024 / 1e6 for r in good]
            ),
        }
    return s


def fmt(v, digits=0, suffix=""):
    if v is None:
        return "—"
    if digits and abs(v) < 0.5 * 10 ** -digits:
        v = 0.0
    if isinstance(v, float) and digits == 0 and abs(v) < 10:
        digits = 1
    return ("{:,.%df}" % digits).format(v) + suffix


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "—"
    return ("{:.%df}×" % digits).format(a / b)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def tables(summary, order, peers):
    """The report: main table, nonblocking, object counts, scaling, targets."""
    parts = []
    rows = []
    for py, wl in order:
        s = summary[py][wl]
        p = s["peers"]
        pms = lambda name: p.get(name, {}).get("ms")  # noqa: E731

        def split(name):
            q = p.get(name, {})
            if q.get("print_ms") is None:
                return fmt(q.get("ms"))
            return "%s + %s" % (fmt(q.get("census_ms")), fmt(q.get("print_ms")))

        hs = s["full_wall_ms"]
        rows.append([
            py, wl,
            fmt(s["full_objects"]),
            "%s / %s (%s MB)" % (fmt(s["raw_ms"]), fmt(s["raw_gap_ms"]), fmt(s["raw_mb"])),
            fmt(s.get("raw_floor_ms")),
            fmt(s["naive_ms"]) + " (" + fmt(s["naive_mb"]) + " MB)",
            fmt(s["full_gap_ms"]),
            ratio(s["full_gap_ms"], s["raw_gap_ms"]),
            fmt(s["full_pause_ms"]),
            fmt(s["full_walk_ms"]),
            fmt(hs),
            fmt(s["gc_wall_ms"]),
            split("guppy"), ratio(pms("guppy"), hs),
            fmt(pms("gccount")), ratio(pms("gccount"), hs),
            fmt(pms("gcclosure")), ratio(pms("gcclosure"), hs),
            split("pympler"), fmt(pms("objgraph")),
            fmt(s["full_rss_mb"]) + " / " + fmt(s["target_rss_mb"]),
            ratio(s["full_rss_mb"], s["target_rss_mb"]),
            fmt(s["full_snap_mb"], 1),
        ])
    parts.append("### Main table (medians)\n")
    parts.append(md_table([
        "Python", "heap", "objects (full)", "raw copy ms (own / tgt) (MB copied)",
        "copy floor ms (fault-in + copy)", "naive copy ms (MB copied)", "pause ms (tgt)",
        "pause / raw", "hs pause_ms", "hs walk ms", "hs wall ms", "hs --mode gc wall ms",
        "guppy ms (heap() + str)", "guppy / hs", "gc-count ms", "gc-count / hs", "gc-closure ms",
        "gc-closure / hs", "pympler ms (get_objects + summarize)", "objgraph ms", "hs peak RSS / target RSS MB",
        "RSS ratio", "snapshot MB",
    ], rows))
    parts.append(
        "\n- *raw copy*: `raw_copy <pid>`, heapsnap's own copy sequence through the library "
        "(buffers prepared before the stop; stopped: read_maps + Image::copy_process), nothing "
        "walked; *own*: stop→resume as `raw_copy` measures it; *tgt*: the longest gap between "
        "two 1 ms ticks of the target's own thread during the run (≈ pause + 1 ms + scheduling "
        "noise; idle noise in the next table). *copy floor*: `raw_copy`'s buffer fault-in "
        "(before the stop) plus its stop-copy-resume: the least a census that copies the heap "
        "spends before walking anything. *naive copy*: `raw_copy --naive`, every byte of "
        "every writable mapping into buffers allocated while the target is stopped. "
        "*pause / raw* compares the two target-measured figures. *hs*: `heapsnap dump --quiet "
        "-o snap.json` (mode full); *wall* is the whole command (start, ELF, copy, walk, JSON). "
        "Peer ratios are peer time / heapsnap wall time (> 1 = heapsnap faster), the peer's time "
        "being census + printing where the tool prints (both shown as *census + print*). Peer "
        "times are measured inside the target. "
        "MB = 10^6 bytes; RSS = peak resident set of heapsnap (GNU time) / VmRSS of the target."
    )

    rows = []
    for py, wl in order:
        s = summary[py][wl]
        rows.append([
            py, wl, fmt(s["idle_gap_ms"]), fmt(s["full_gap_ms"]), fmt(s["nb_gap_ms"]),
            fmt(s["nb_wall_ms"]), fmt(s.get("nb_still_diff_pct"), 3, " %"),
            "%d/%d/%d" % (s["full_fail"], s["gc_fail"], s["nb_fail"]),
        ])
    parts.append("\n### --nonblocking, still target\n")
    parts.append(md_table([
        "Python", "heap", "idle max gap ms", "blocking pause ms (tgt)",
        "nonblocking pause ms (tgt)", "nonblocking wall ms", "census diff vs blocking",
        "failed runs full/gc/nonblocking",
    ], rows))
    rows = []
    for py, wl in order:
        for rate, m in sorted(summary[py][wl]["mut"].items()):
            ok_n = sum(1 for r in m["rcs"] if r == 0)
            rows.append([
                py, wl, "full speed" if rate == 0 else fmt(rate), fmt(m["rate"]),
                "%d/%d" % (ok_n, len(m["rcs"])), ",".join(str(r) for r in m["rcs"]),
                fmt(m["diff_pct"], 3, " %"),
                " ".join("%+.3f%%" % d for d in m["diffs"]) or "—",
                "; ".join(m["errors"]) or "—",
            ])
    if rows:
        parts.append("\n### --nonblocking, mutating target\n")
        parts.append(md_table([
            "Python", "heap", "mutation rate asked (replacements/s)", "measured",
            "nonblocking succeeded", "exit codes", "census |diff| vs blocking (median)",
            "diffs", "errors",
        ], rows))
        parts.append(
            "\n- The mutating target replaces random items of a 20,000-item list in a loop (4 "
            "objects freed and 4 allocated per replacement). Each nonblocking dump is compared "
            "with a blocking dump of the same target taken just before it."
        )

    count_rows = []
    for py, wl in order:
        s = summary[py][wl]
        p = s["peers"]
        count_rows.append([py, wl, fmt(s["full_objects"]), fmt(s["gc_objects"])] + [
            fmt(p.get(name, {}).get("objects")) for name in ("gcclosure", "gccount", "guppy", "pympler")
        ] + [fmt(p.get("guppy", {}).get("rss_growth_mb"))])
    rows = []
    for py, wl in order:
        s = summary[py][wl]
        rows.append([
            py, wl, fmt(s["raw_mb"]), fmt(s.get("touched_mb")),
            fmt(s.get("touched_pct"), 1, " %"), fmt(s["full_gap_ms"]), fmt(s["full_walk_ms"]),
        ])
    parts.append("\n### Copy everything, or fetch on demand?\n")
    parts.append(md_table([
        "Python", "heap", "copied MB", "pages the walk reads, MB", "share of the copy",
        "pause ms, copy then walk (tgt)", "walk ms (an on-demand read would stop the target at least this long)",
    ], rows))
    parts.append(
        "\n- `examples/walk_touch <pid>`: the library's copy, then `/proc/self/clear_refs`, a "
        "full-mode walk, and the `Referenced` pages of the copy's buffers in "
        "`/proc/self/smaps`. A page cache that fetches memory on demand would read at least "
        "these pages, with the target stopped for the whole walk."
    )

    parts.append("\n### Objects each tool counts\n")
    parts.append(md_table([
        "Python", "heap", "heapsnap full", "heapsnap --mode gc", "gc-closure", "gc.get_objects()",
        "guppy h.count", "pympler muppy", "target RSS growth from guppy, MB",
    ], count_rows))

    rows = []
    for py, wl in order:
        s = summary[py][wl]
        rows.append([
            py, wl,
            fmt(s["cost_lean_wall_ms"]), fmt(s["cost_full_wall_ms"]),
            "%.2f×" % s["cost_ratio"] if s["cost_ratio"] else "—",
            fmt(s["lean_rss_mb"]), ratio(s["lean_rss_mb"], s["target_rss_mb"]),
            fmt(s["full_rss_mb"]), ratio(s["full_rss_mb"], s["target_rss_mb"]),
            fmt(s["lean_snap_mb"], 1), fmt(s["full_snap_mb"], 1),
        ])
    parts.append("\n### What the retained sizes cost\n")
    parts.append(md_table([
        "Python", "heap", "dump -o --no-retained wall ms", "dump -o wall ms", "with / without",
        "peak RSS MB without", "/ target RSS", "peak RSS MB with", "/ target RSS",
        "snapshot MB without", "snapshot MB with",
    ], rows))
    parts.append(
        "\n- The same target, dumped with and without `--no-retained` (no cross edges kept by the "
        "walk, no dominator tree, no retained and idom columns) in %d back-to-back pairs: wall "
        "times are medians, *with / without* the median of the pairs' ratios. Peak RSS and "
        "snapshot sizes are those of the main table's dumps." % COST_PAIRS
    )

    parts.append("\n### Scaling W1/4 → W1 → W4 (per object, medians)\n")
    for py in dict.fromkeys(py for py, _ in order):
        wls = [wl for p, wl in order if p == py]
        rows = []
        metrics = [
            ("hs wall ns/object", lambda s: s["full_wall_ms"] * 1e6 / s["full_objects"]),
            ("hs walk ns/object", lambda s: s["full_walk_ms"] * 1e6 / s["full_objects"]),
            ("pause (hs pause_ms) ns/object", lambda s: s["full_pause_ms"] * 1e6 / s["full_objects"]),
            ("raw copy ns/object", lambda s: s["raw_ms"] * 1e6 / s["full_objects"]),
            ("naive copy ns/object", lambda s: s["naive_ms"] * 1e6 / s["full_objects"]),
            ("hs peak RSS bytes/object", lambda s: s["full_rss_mb"] * 1e6 / s["full_objects"]),
            ("target RSS bytes/object", lambda s: s["target_rss_mb"] * 1e6 / s["full_objects"]),
            ("snapshot bytes/object", lambda s: s["full_snap_mb"] * 1e6 / s["full_objects"]),
            ("guppy ns/object", lambda s: s["peers"]["guppy"]["ms"] * 1e6 / s["full_objects"]),
            ("gc-closure ns/object", lambda s: s["peers"]["gcclosure"]["ms"] * 1e6 / s["full_objects"]),
        ]
        for label, f in metrics:
            vals = []
            for wl in wls:
                try:
                    vals.append(f(summary[py][wl]))
                except (KeyError, TypeError, ZeroDivisionError):
                    vals.append(None)
            row = [label] + [fmt(v) for v in vals]
            last = "—"
            if len(vals) >= 2 and vals[-1] is not None and vals[-2] is not None and vals[-2]:
                last = ratio(vals[-1], vals[-2])
            rows.append(row + [last])
        hdr = ["Python %s" % py] + wls + ["%s/%s per object" % (wls[-1], wls[-2]) if len(wls) > 1 else "—"]
        parts.append(md_table(hdr, rows) + "\n")
    return "\n".join(parts)


def targets_check(summary, order):
    lines = []
    for py, wl in order:
        s = summary[py][wl]
        r = (s["full_gap_ms"] / s["raw_gap_ms"]) if s["full_gap_ms"] and s["raw_gap_ms"] else None
        r2 = (s["full_pause_ms"] / s["raw_ms"]) if s["full_pause_ms"] and s["raw_ms"] else None
        if r is not None:
            lines.append(
                "- pause ≤ 2× raw copy, %s %s: target-measured %s, own figures %s → %s"
                % (py, wl, ratio(r, 1), ratio(r2, 1) if r2 else "—", "met" if r <= 2 else "NOT met")
            )
    for py, wl in order:
        if wl != "W1":
            continue
        s = summary[py][wl]
        hs = s["full_wall_ms"]
        g = s["peers"].get("guppy", {}).get("ms")
        c = s["peers"].get("gccount", {}).get("ms")
        cl = s["peers"].get("gcclosure", {}).get("ms")
        gh = s["peers"].get("guppy", {}).get("census_ms")
        if g and hs:
            lines.append(
                "- heapsnap ≥ 5× faster than guppy3 hp.heap() (W1, %s): hp.heap() alone / hs "
                "%s → %s; hp.heap() + str(h) / hs %s → %s"
                % (py, ratio(gh, hs), "met" if gh / hs >= 5 else "NOT met",
                   ratio(g, hs), "met" if g / hs >= 5 else "NOT met")
            )
        if c and hs:
            hsgc = s["gc_wall_ms"]
            lines.append(
                "- heapsnap no slower than gc.get_objects()+count (W1, %s): gc-count/hs %s → %s "
                "(but gc.get_objects() sees %s objects, heapsnap %s. Like for like, the "
                "gc-closure computes the object set of `--mode gc`: gc-closure / hs --mode gc "
                "= %s, gc-closure / hs full = %s; copying the heap alone, buffers faulted in, "
                "takes %s ms: gc-count / copy floor = %s)"
                % (py, ratio(c, hs), "met" if c >= hs else "NOT met",
                   fmt(s["peers"]["gccount"].get("objects")), fmt(s["full_objects"]),
                   ratio(cl, hsgc), ratio(cl, hs), fmt(s.get("raw_floor_ms")),
                   ratio(c, s.get("raw_floor_ms")))
            )
    for py in dict.fromkeys(py for py, _ in order):
        wls = [wl for p, wl in order if p == py]
        per = [summary[py][wl]["full_wall_ms"] / summary[py][wl]["full_objects"]
               for wl in wls if summary[py][wl]["full_objects"]]
        if len(per) >= 2:
            steps = ", ".join("%s→%s %s" % (wls[i], wls[i + 1], ratio(per[i + 1], per[i]))
                              for i in range(len(per) - 1))
            worst = max(per[i + 1] / per[i] for i in range(len(per) - 1))
            lines.append(
                "- linear scaling (%s): wall time per object, step ratios %s → %s"
                % (py, steps, "linear (≤ 1.25× per step)" if worst <= 1.25 else "NOT linear")
            )
    return "\n".join(lines)


def measure_big(python, n, reps, tmpdir):
    """`dump -o` twice and `diff` of the two snapshots, `reps` times: wall time, peak RSS,
    pause, snapshot size; and the target's RSS."""
    res = {"n": n, "dump": [], "diff": []}
    a, b = os.path.join(tmpdir, "big-a.json"), os.path.join(tmpdir, "big-b.json")
    with Target(python, n) as t:
        res["target_rss_kb"] = t.rss_kb()
        for _ in range(reps):
            for path in (a, b):
                t.reset()
                r = run_measured([HEAPSNAP, "dump", str(t.pid), "--quiet", "-o", path])
                d = {"rc": r["rc"], "wall_ms": r["wall_ms"], "maxrss_kb": r["maxrss_kb"],
                     "gap_ms": t.gap_ms()}
                if r["rc"] == 0:
                    meta = snapshot_meta(path)
                    d.update(objects=meta.get("objects"), pause_ms=meta.get("pause_ms"),
                             file_bytes=os.path.getsize(path))
                res["dump"].append(d)
            r = run_measured([HEAPSNAP, "diff", a, b])
            res["diff"].append({"rc": r["rc"], "wall_ms": r["wall_ms"], "maxrss_kb": r["maxrss_kb"],
                                "files_bytes": os.path.getsize(a) + os.path.getsize(b)})
    for path in (a, b):
        if os.path.exists(path):
            os.remove(path)
    return res


def big_summary(res):
    ok = lambda rows: [r for r in rows if r.get("rc") == 0]
    dumps, diffs = ok(res["dump"]), ok(res["diff"])
    return {
        "objects": med([d.get("objects") for d in dumps]),
        "target_rss_kb": res.get("target_rss_kb"),
        "dump_ms": med([d["wall_ms"] for d in dumps]),
        "dump_rss_kb": med([d["maxrss_kb"] for d in dumps]),
        "pause_ms": med([d.get("pause_ms") for d in dumps]),
        "gap_ms": med([d.get("gap_ms") for d in dumps]),
        "file_bytes": med([d.get("file_bytes") for d in dumps]),
        "diff_ms": med([d["wall_ms"] for d in diffs]),
        "diff_rss_kb": med([d["maxrss_kb"] for d in diffs]),
        "files_bytes": med([d["files_bytes"] for d in diffs]),
    }


def big_tables(big):
    """The W1 → W16 table and its targets."""
    py, runs = big["python"], big["runs"]
    s = {label: big_summary(r) for label, r in runs.items()}
    w1, w16 = s.get("W1"), s.get("W16")
    if not w1 or not w16 or not w1["objects"] or not w16["objects"]:
        return "### Big heaps\n\n(not measured)\n"
    per = lambda x, k: x[k] / x["objects"] if x.get(k) and x["objects"] else None
    mb = lambda kb: kb / 1024 if kb else None
    rows = [
        ["objects", fmt(w1["objects"]), fmt(w16["objects"]), "—"],
        ["target RSS (MB)", fmt(mb(w1["target_rss_kb"])), fmt(mb(w16["target_rss_kb"])), "—"],
        ["`dump -o` wall (ms)", fmt(w1["dump_ms"]), fmt(w16["dump_ms"]),
         ratio(per(w16, "dump_ms"), per(w1, "dump_ms"))],
        ["`dump` peak RSS (MB) / target RSS",
         "%s / %s" % (fmt(mb(w1["dump_rss_kb"])), ratio(w1["dump_rss_kb"], w1["target_rss_kb"])),
         "%s / %s" % (fmt(mb(w16["dump_rss_kb"])), ratio(w16["dump_rss_kb"], w16["target_rss_kb"])),
         "—"],
        ["pause: heapsnap's / target-measured gap (ms)",
         "%s / %s" % (fmt(w1["pause_ms"]), fmt(w1["gap_ms"])),
         "%s / %s" % (fmt(w16["pause_ms"]), fmt(w16["gap_ms"])),
         ratio(per(w16, "pause_ms"), per(w1, "pause_ms"))],
        ["snapshot bytes per object", fmt(per(w1, "file_bytes"), 1), fmt(per(w16, "file_bytes"), 1),
         ratio(per(w16, "file_bytes"), per(w1, "file_bytes"))],
        ["`diff` of the two (ms)", fmt(w1["diff_ms"]), fmt(w16["diff_ms"]),
         ratio(per(w16, "diff_ms"), per(w1, "diff_ms"))],
        ["`diff` peak RSS (MB) / the two files",
         "%s / %s" % (fmt(mb(w1["diff_rss_kb"])), ratio(w1["diff_rss_kb"] * 1024, w1["files_bytes"])),
         "%s / %s" % (fmt(mb(w16["diff_rss_kb"])), ratio(w16["diff_rss_kb"] * 1024, w16["files_bytes"])),
         "—"],
    ]
    table = md_table(["Python %s" % py, "W1", "W16", "W16/W1 per object"], rows)
    checks = []
    for what, r in (("`dump -o`", ratio(per(w16, "dump_ms"), per(w1, "dump_ms"))),
                    ("`diff`", ratio(per(w16, "diff_ms"), per(w1, "diff_ms")))):
        v = float(r.rstrip("×")) if r not in ("—", None) else None
        checks.append("- %s per object at W16 ≤ 1.25× W1: %s → %s"
                      % (what, r, "met" if v is not None and v <= 1.25 else "NOT met"))
    checks.append("- `diff` of two W16 snapshots no longer than one W16 `dump -o`: %s ms vs %s ms → %s"
                  % (fmt(w16["diff_ms"]), fmt(w16["dump_ms"]),
                     "met" if w16["diff_ms"] <= w16["dump_ms"] else "NOT met"))
    r = w16["dump_rss_kb"] / w16["target_rss_kb"]
    checks.append("- `dump` peak RSS ≤ 1.5× the target's at W16: %s → %s"
                  % (ratio(r, 1), "met" if r <= 1.5 else "NOT met"))
    r = w16["diff_rss_kb"] * 1024 / w16["files_bytes"]
    checks.append("- `diff` peak RSS ≤ the two files' size at W16: %s → %s"
                  % (ratio(r, 1), "met" if r <= 1 else "NOT met"))
    return ("### Big heaps: W1 → W16 (%d repetitions, median)\n\n" % big["reps"] + table
            + "\n\n" + "\n".join(checks) + "\n")


# --------------------------------------------------------------------------------------------
# Machine


def sh(argv):
    try:
        return subprocess.check_output(argv, text=True, stderr=subprocess.DEVNULL, cwd=ROOT).strip()
    except Exception:
        return "?"


def machine(venvs):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576.0)
    # What was built: bench/run records it before building; else the checkout as it is now.
    commit = os.environ.get("HEAPSNAP_BENCH_COMMIT") or sh(["git", "rev-parse", "HEAD"])
    if "HEAPSNAP_BENCH_DIRTY" in os.environ:
        dirty = os.environ["HEAPSNAP_BENCH_DIRTY"].split()
    else:
        dirty = sh(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock",
                    "examples"])
        dirty = [l.split()[-1] for l in dirty.splitlines() if l.strip()] if dirty != "?" else []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "heapsnap_commit": commit,
        "heapsnap_dirty": dirty,
        "rustc": sh(["rustc", "--version"]),
        "interpreters": {v: info["sys_version"].replace("\n", " ") for v, (_, info) in venvs.items()},
        "peers": next(iter(venvs.values()))[1]["packages"] if venvs else {},
    }


def machine_md(m):
    lines = [
        "- CPU: %s, %s cores, %s RAM; kernel %s" % (m["cpu"], m["cores"], m["memory"], m["kernel"]),
        "- date: %s" % m["date"],
        "- heapsnap commit: `%s`%s" % (
            m["heapsnap_commit"][:12],
            " + uncommitted changes in %s" % ", ".join(sorted(m["heapsnap_dirty"]))
            if m["heapsnap_dirty"] else "",
        ),
        "- %s" % m["rustc"],
    ]
    if m.get("load_1min"):
        lines.append(
            "- 1-minute load average when each workload started and at the end: %s (the "
            "benchmark itself keeps about 1 core busy; more means other work shared the machine)"
            % ", ".join("%.2f" % x for x in m["load_1min"])
        )
    for v, s in m["interpreters"].items():
        lines.append("- Python %s: `%s`" % (v, s))
    lines.append("- peers: " + ", ".join("%s %s" % kv for kv in m["peers"].items()))
    return "\n".join(lines)


def write_doc(block):
    head = (
        "# Benchmarks\n\n"
        "Run: `bench/run` (see bench/bench.py for what it measures and its options).\n\n"
    )
    text = head + BEGIN + "\n" + END + "\n"
    if os.path.exists(DOC):
        with open(DOC) as f:
            text = f.read()
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    a = text.index(BEGIN) + len(BEGIN)
    b = text.index(END)
    text = text[:a] + "\n" + block.strip("\n") + "\n" + text[b:]
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pythons", default="3.11.7,3.12.1", help="pyenv versions (default %(default)s)")
    ap.add_argument("--pyenv-root", default=os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")))
    ap.add_argument("--workloads", default="q,1,4", help="q = W1/4, 1 = W1, 4 = W4 (default %(default)s)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions, median reported (default 3)")
    ap.add_argument("--peers", default=",".join(PEERS), help="in-process peers (default %(default)s)")
    ap.add_argument("--no-peers-on", default="", help="workloads (q,1,4) where peers are skipped")
    ap.add_argument("--mutate-rates", default="0,10000", help="replacements/s of the mutating "
                    "targets for the --nonblocking comparison, 0 = full speed (default %(default)s)")
    ap.add_argument("--no-mutate-on", default="", help="workloads where the mutating-target "
                    "--nonblocking comparison is skipped")
    ap.add_argument("--no-big", action="store_true", help="skip the W1 → W16 big-heap comparison "
                    "(20 million objects: about 2 GB for the target, 2.5 GB for heapsnap)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--render", metavar="RESULTS.json", help="measure nothing: print (and write "
                    "into docs/benchmarks.md) the report of a saved run, e.g. target/bench/latest.json")
    args = ap.parse_args()
    if args.render:
        publish(load_results(args.render), args.no_doc)
        return

    for exe in (HEAPSNAP, RAW_COPY, WALK_TOUCH):
        if not os.path.exists(exe):
            raise SystemExit("bench: %s is missing: run bench/run (it builds it)" % exe)
    cache = os.environ.get("HEAPSNAP_CACHE", os.path.expanduser("~/.cache/heapsnap"))
    pythons = [p for p in args.pythons.split(",") if p]
    wkeys = [w for w in args.workloads.split(",") if w]
    for w in wkeys:
        if w not in WORKLOADS:
            raise SystemExit("bench: unknown workload %r (q, 1, 4)" % w)
    peers = [p for p in args.peers.split(",") if p]
    no_peers = set(w for w in args.no_peers_on.split(",") if w)
    no_mut = set(w for w in args.no_mutate_on.split(",") if w)
    rates = [int(r) for r in args.mutate_rates.split(",") if r]

    started = time.time()
    venvs = {}
    for v in pythons:
        venvs[v] = ensure_venv(v, args.pyenv_root, cache)
    log("venvs ready (%.1f s)" % (time.time() - started))

    raw, summary, order, loads = {}, {}, [], []
    with tempfile.TemporaryDirectory(prefix="heapsnap-bench-") as tmpdir:
        for v in pythons:
            py = venvs[v][0]
            raw[v], summary[v] = {}, {}
            for w in wkeys:
                label, n = WORKLOADS[w]
                loads.append(os.getloadavg()[0])
                log("Python %s, %s (%d items), load average %.2f" % (v, label, n, loads[-1]))
                t0 = time.time()
                res = measure_workload(
                    py, n, args.reps, [] if w in no_peers else peers,
                    [] if w in no_mut else rates, tmpdir,
                )
                raw[v][label] = res
                summary[v][label] = summarize(res)
                order.append((v, label))
                log("  done in %.1f s" % (time.time() - t0))
        big = None
        big_py = next((v for v in pythons if v.startswith("3.12")), pythons[0] if pythons else None)
        if not args.no_big and big_py:
            big = {"python": big_py, "reps": args.reps, "runs": {}}
            for label, n in BIG:
                log("big heaps: Python %s, %s (%d items)" % (big_py, label, n))
                big["runs"][label] = measure_big(venvs[big_py][0], n, args.reps, tmpdir)
    elapsed = time.time() - started
    loads.append(os.getloadavg()[0])

    m = machine(venvs)
    m["load_1min"] = loads
    cut = []
    if no_peers:
        cut.append("in-process peers skipped on %s"
                   % ", ".join(WORKLOADS[w][0] for w in sorted(no_peers)))
    if no_mut:
        cut.append("mutating-target --nonblocking comparison skipped on %s"
                   % ", ".join(WORKLOADS[w][0] for w in sorted(no_mut)))
    out = {
        "machine": m, "args": vars(args), "elapsed_s": elapsed, "order": order, "cut": cut,
        "cmdline": os.environ.get("HEAPSNAP_BENCH_CMDLINE") or "bench/bench.py " + " ".join(sys.argv[1:]),
        "summary": summary, "raw": raw, "big": big,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("results-%s.json" % stamp, "latest.json"):
        with open(os.path.join(RESULTS_DIR, name), "w") as f:
            json.dump(out, f, indent=1, default=str)
    log("raw figures: %s" % os.path.join(RESULTS_DIR, "latest.json"))
    publish(out, args.no_doc)


def render(out):
    """The report (markdown) from a run's results."""
    order = [tuple(o) for o in out["order"]]
    cut = out.get("cut") or []
    return "\n".join([
        "## Results\n",
        "`%s` — %d repetitions per figure (median), whole run %.0f s.%s\n"
        % (out["cmdline"].strip(), out["args"]["reps"], out["elapsed_s"],
           (" Cut: " + "; ".join(cut) + ".") if cut else ""),
        "### Machine\n",
        machine_md(out["machine"]) + "\n",
        tables(out["summary"], order, None),
        "### Targets\n",
        targets_check(out["summary"], order) + "\n",
    ] + ([big_tables(out["big"])] if out.get("big") else []))


def publish(out, no_doc):
    report = render(out)
    print(report)
    if not no_doc:
        write_doc(report)
        log("wrote %s" % DOC)


def load_results(path):
    """A results file written by a run; the summaries are recomputed from its raw figures."""
    with open(path) as f:
        out = json.load(f)
    for py, per_wl in out["raw"].items():
        for wl, res in per_wl.items():
            res["mut"] = {int(k): v for k, v in res.get("mut", {}).items()}
            out["summary"][py][wl] = summarize(res)
    out.setdefault("order", [(py, wl) for py in out["summary"] for wl in out["summary"][py]])
    out.setdefault("cmdline", "bench/run")
    return out

if __name__ == "__main__":
    main()
