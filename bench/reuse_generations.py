"""How often the collector's generations tell a reused address apart (issue 12.4).

    python bench/reuse_generations.py [REQUESTS]

Runs fixtures/reuse_service.py's service code in this process: 600 requests and a full
collection (the cache's sessions are then all in the oldest generation), a census of every
Session's (serial number, generation) by id, REQUESTS more requests (default 200), and a second
census. Prints how many sessions of the second census sit at an address that held a different
session in the first, and how many of those the rule "younger generation now than then, so a
different object" tells apart. No heapsnap involved: this measures whether a snapshot column
of generations would be worth having.
"""

import gc
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = os.path.join(HERE, "..", "fixtures", "reuse_service.py")


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    # The service's definitions, without its command loop.
    code = open(SERVICE).read().split('sys.stdout.write("ready')[0]
    service = {"__name__": "reuse_service"}
    exec(compile(code, SERVICE, "exec"), service)
    session_type = service["Session"]

    def census():
        found = {}
        for generation in range(3):
            for o in gc.get_objects(generation=generation):
                if type(o) is session_type:
                    found[id(o)] = (o.n, generation)
        return found

    for _ in range(600):
        service["request"]()
    gc.collect()
    before = census()
    for _ in range(requests):
        service["request"]()
    after = census()
    reused = [(before[a], after[a]) for a in after if a in before and before[a][0] != after[a][0]]
    told_apart = sum(1 for old, new in reused if new[1] < old[1])
    print("Python %s, %d requests: %d sessions at reused addresses, %d told apart by generation"
          % (sys.version.split()[0], requests, len(reused), told_apart))


if __name__ == "__main__":
    main()
