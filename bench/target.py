"""heapsnap benchmark target: a CPython process with a known heap and a pause meter.

    python bench/target.py N [--mutate RATE]

Builds N instances of `Item` (each with a str attribute and a `{"i": i}` dict attribute, so
about 4 live objects per instance: the instance, its str, its dict, the int), starts a daemon
thread that ticks every 1 ms (time.sleep(0.001)) and records the longest gap between two ticks,
then prints "ready <pid> <N>" and serves one command per stdin line, one reply line each:

    reset            -> "ok"                 forget the longest gap so far
    gap              -> "gap <ms> <ticks>"   longest gap (ms) since the last reset, and ticks
    rss              -> "rss <kB>"           VmRSS of this process
    mut              -> "mut <count>"        items replaced so far by the --mutate thread
    peer NAME        -> one JSON line        run an in-process census tool on this heap, timed
                                             with time.perf_counter (NAME: guppy, pympler,
                                             objgraph, gccount, gcclosure)
    quit             -> exits (os._exit(0))

A gap is the time between two consecutive ticks, so an undisturbed target reports a bit more
than 1 ms; a target stopped for P ms reports about P + 1 ms.

--mutate RATE: a second thread mutates the heap without end: it replaces random Items of a
separate list of 20,000 by new ones (each replacement frees 4 objects and allocates 4), RATE
replacements per second (batches of 100 on a schedule), or as fast as it can (batches of 200,
then a 0.1 ms sleep) with RATE 0; so a --nonblocking copy sees a heap that changes under it.
"""

import gc
import io
import json
import os
import random
import sys
import threading
import time


class Item(object):
    def __init__(self, i):
        self.name = "item-%d" % i
        self.data = {"i": i}


_max_gap = 0.0
_ticks = 0
_mutations = 0


def _ticker():
    global _max_gap, _ticks
    last = time.perf_counter()
    while True:
        time.sleep(0.001)
        now = time.perf_counter()
        gap = now - last
        last = now
        _ticks += 1
        if gap > _max_gap:
            _max_gap = gap


def _mutator(pool, base, rate):
    global _mutations
    k = base
    rnd = random.Random(1)
    n = len(pool)
    batch = 100 if rate else 200
    interval = batch / float(rate) if rate else 0.0
    due = time.perf_counter()
    while True:
        for _ in range(batch):
            pool[rnd.randrange(n)] = Item(k)
            k += 1
        _mutations += batch
        if interval:
            due += interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        else:
            time.sleep(0.0001)


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def phases_ms(t0, t1, t2, t3=None):
    """Times in ms from perf_counter marks: import (t0-t1), census (t1-t2), print (t2-t3)."""
    phases = {"import_ms": (t1 - t0) * 1e3, "census_ms": (t2 - t1) * 1e3}
    if t3 is None:
        phases["total_ms"] = (t2 - t1) * 1e3
    else:
        phases.update(print_ms=(t3 - t2) * 1e3, total_ms=(t3 - t1) * 1e3)
    return phases


def _peer(name):
    """Run one in-process census tool; return a dict of timings (ms) and counts."""
    out = {"peer": name}
    t0 = time.perf_counter()
    if name == "guppy":
        from guppy import hpy

        t1 = time.perf_counter()
        hp = hpy()
        h = hp.heap()
        t2 = time.perf_counter()
        text = str(h)
        t3 = time.perf_counter()
        out.update(
            phases_ms(t0, t1, t2, t3),
            objects=h.count,
            bytes=h.size,
            text_lines=text.count("\n") + 1,
        )
    elif name == "pympler":
        from pympler import muppy, summary

        t1 = time.perf_counter()
        objs = muppy.get_objects()
        t2 = time.perf_counter()
        rows = summary.summarize(objs)
        t3 = time.perf_counter()
        out.update(
            phases_ms(t0, t1, t2, t3),
            objects=len(objs),
            bytes=sum(r[2] for r in rows),
            types=len(rows),
        )
        del objs, rows
    elif name == "objgraph":
        import objgraph

        t1 = time.perf_counter()
        buf = io.StringIO()
        objgraph.show_most_common_types(limit=20, file=buf)
        t2 = time.perf_counter()
        out.update(phases_ms(t0, t1, t2))
    elif name == "gccount":
        t1 = time.perf_counter()
        objs = gc.get_objects()
        counts = {}
        total = 0
        getsizeof = sys.getsizeof
        for o in objs:
            t = type(o)
            counts[t] = counts.get(t, 0) + 1
            total += getsizeof(o)
        t2 = time.perf_counter()
        out.update(
            import_ms=0.0,
            census_ms=(t2 - t1) * 1e3,
            total_ms=(t2 - t1) * 1e3,
            objects=len(objs),
            bytes=total,
            types=len(counts),
        )
        del objs, counts
    elif name == "gcclosure":
        # gc.get_objects() plus the closure of gc.get_referents(): the object set that
        # `heapsnap dump --mode gc` counts, computed in pure Python.
        t1 = time.perf_counter()
        stack = gc.get_objects()
        seen = set(map(id, stack))
        counts = {}
        total = 0
        getsizeof = sys.getsizeof
        get_referents = gc.get_referents
        n = 0
        while stack:
            o = stack.pop()
            n += 1
            t = type(o)
            counts[t] = counts.get(t, 0) + 1
            total += getsizeof(o)
            for r in get_referents(o):
                i = id(r)
                if i not in seen:
                    seen.add(i)
                    stack.append(r)
        t2 = time.perf_counter()
        out.update(
            import_ms=0.0,
            census_ms=(t2 - t1) * 1e3,
            total_ms=(t2 - t1) * 1e3,
            objects=n,
            bytes=total,
            types=len(counts),
        )
        del seen, counts
    else:
        out["error"] = "unknown peer %r" % name
    return out


def main():
    global _max_gap
    n = int(sys.argv[1])
    rate = None
    if "--mutate" in sys.argv[2:]:
        rate = int(sys.argv[sys.argv.index("--mutate") + 1])
    mutate = rate is not None
    items = [Item(i) for i in range(n)]
    pool = [Item(n + i) for i in range(20000)] if mutate else None
    gc.collect()
    threading.Thread(target=_ticker, name="ticker", daemon=True).start()
    if mutate:
        threading.Thread(target=_mutator, args=(pool, n + 20000, rate), name="mutator", daemon=True).start()
    sys.stdout.write("ready %d %d\n" % (os.getpid(), len(items)))
    sys.stdout.flush()
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "reset":
            _max_gap = 0.0
            reply = "ok"
        elif cmd[0] == "gap":
            reply = "gap %.3f %d" % (_max_gap * 1e3, _ticks)
        elif cmd[0] == "mut":
            reply = "mut %d" % _mutations
        elif cmd[0] == "rss":
            reply = "rss %d" % _rss_kb()
        elif cmd[0] == "peer":
            try:
                reply = json.dumps(_peer(cmd[1]))
            except Exception as e:  # report, never die: the driver reads one line
                reply = json.dumps({"peer": cmd[1], "error": "%s: %s" % (type(e).__name__, e)})
        elif cmd[0] == "quit":
            sys.stdout.flush()
            os._exit(0)
        else:
            reply = "error unknown command"
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
