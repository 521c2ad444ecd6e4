"""Run fuzz cases through an isolated worker and print the summary: ``python tests/fuzz/run_all.py [prefix ...]``.

The pytest suite (``python -m pytest -m fuzz tests/fuzz``) does the same with one test per case; this script is
for a quick look at one group while fixing it.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_cases
import fuzz_harness


def main(prefixes: list[str]) -> int:
    cases = fuzz_cases.all_cases()
    sel = [c for c in sorted(cases) if not prefixes or any(c.startswith(p) for p in prefixes)]
    w = fuzz_harness.Worker()
    t0 = time.time()
    for i, cid in enumerate(sel):
        r = w.run(cases[cid])
        if r.outcome in fuzz_harness.BAD:
            print(f"{r.outcome}: {cid}: {r.detail}", flush=True)
        if r.seconds > 5:
            print(f"slow {r.seconds:.1f}s {cid}", flush=True)
        if i % 200 == 0:
            print(f"... {i}/{len(sel)} {time.time() - t0:.0f}s", flush=True)
    w.close()
    res = fuzz_harness.RECORDER.results
    print(fuzz_harness.summary_table([r for r in res if r.outcome not in fuzz_harness.BAD]) if False else "")
    counts = fuzz_harness.summary_json(res)["counts"]
    print(json.dumps(counts), "wall", round(time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
