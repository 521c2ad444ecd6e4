"""Worker subprocess of the fuzz suite: reads case ids on stdin, runs each, writes ``@@RESULT {json}`` lines.

The parent (``fuzz_harness.Worker``) caps this process's address space and times each case out, so a crash,
an abort, a hang or an out-of-memory is recorded against the case that caused it.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _segfault() -> None:
    import ctypes

    ctypes.string_at(0)


def _hang() -> None:
    time.sleep(3600)


def _oom() -> bytearray:
    return bytearray(16 * 1024**3)


def _self_tests() -> dict:
    from fuzz_harness import Case

    return {f"selftest[{n}]": Case(f"selftest[{n}]", "selftest", f) for n, f in
            (("segfault", _segfault), ("hang", _hang), ("oom", _oom))}


SELF_TESTS: dict = {}


def main() -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the library prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    import fuzz_cases
    from fuzz_harness import classify_call

    cases = fuzz_cases.all_cases()
    SELF_TESTS.update(_self_tests())
    for line in sys.stdin:
        cid = line.strip()
        if not cid:
            continue
        t0 = time.perf_counter()
        case = cases.get(cid) or SELF_TESTS.get(cid)
        if case is None:
            outcome, detail = "generic-exception", f"unknown case id {cid!r}"
        else:
            outcome, detail = classify_call(case.fn, case.check)
        proto.write("@@RESULT " + json.dumps({"outcome": outcome, "detail": detail,
                                              "seconds": time.perf_counter() - t0}) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
