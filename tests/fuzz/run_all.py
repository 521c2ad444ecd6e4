"""Run every fuzz case through an isolated worker and print the summary (the pytest suite does the same)."""
from __future__ import annotations
import sys, json, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_cases, fuzz_harness
cases = fuzz_cases.all_cases()
sel = [c for c in sorted(cases) if any(c.startswith(p) for p in sys.argv[1:])] if len(sys.argv) > 1 else sorted(cases)
w = fuzz_harness.Worker()
t0 = time.time()
for cid in sel:
    r = w.run(cases[cid])
    if r.seconds > 5: print(f"slow {r.seconds:.1f}s {cid}", flush=True)
w.close()
print(fuzz_harness.summary_table(fuzz_harness.RECORDER.results))
print("wall", time.time() - t0)
