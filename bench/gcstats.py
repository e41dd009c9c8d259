"""Runs `llm-router` with the garbage collector's pauses timed, for profile_proxy.py --gc.

    python bench/gcstats.py OUT.json serve -c proxy.yaml

Every collection is timed through `gc.callbacks`; at exit (llm-router exits
cleanly on SIGTERM) OUT.json gets every collection as `[unix time, generation,
pause ms, unreachable objects freed]`, so a caller can keep those inside its load window (`summarize`).
A collection stops the event loop, so its pause lands on every request in
flight at that moment.
"""

from __future__ import annotations

import atexit
import collections
import gc
import json
import sys
import time


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    events: list[tuple[float, int, float]] = []
    started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            events.append((time.time(), info["generation"], (time.perf_counter() - started[0]) * 1000,
                           info["collected"]))

    def report() -> None:
        objects = gc.get_objects()
        kinds = collections.Counter(type(o).__name__ for o in objects).most_common(12)
        result = {"threshold": gc.get_threshold(), "tracked_objects": len(objects), "tracked_kinds": kinds,
                  "frozen_objects": gc.get_freeze_count(), "events": events}
        with open(out, "w") as f:
            json.dump(result, f)

    gc.callbacks.append(on_gc)
    atexit.register(report)
    from proxy.cli import main as cli_main

    return cli_main(argv)


def summarize(events: list, start: float, end: float) -> dict:
    """Per generation: collections, total pause, p50/p99/max pause (ms), inside [start, end]."""
    out: dict = {"seconds": end - start}
    for gen in (0, 1, 2):
        inside = [(ms, freed) for t, g, ms, freed in events if g == gen and start <= t <= end]
        v = sorted(ms for ms, _ in inside)
        out[f"gen{gen}"] = {
            "collections": len(v),
            "total_ms": sum(v),
            "share_of_time": sum(v) / 1000 / (end - start) if end > start else None,
            "p50_ms": v[len(v) // 2] if v else None,
            "p99_ms": v[min(len(v) - 1, int(len(v) * 0.99))] if v else None,
            "max_ms": v[-1] if v else None,
            "unreachable_freed": sum(freed for _, freed in inside),
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
