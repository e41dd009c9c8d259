"""Profiles llm-router under load with py-spy and prints where its core goes.

    pip install py-spy
    python bench/profile_proxy.py [--variant passthrough] [--seconds 10] [--concurrency 16] [--native]

Starts the mock upstream and the chosen llm-router variant (from bench/variants.yaml) pinned as
in compare.py, drives it with wrk (or bench/loadgen.py) for `--seconds`, while `py-spy record`
samples the proxy. Writes the collapsed stacks and a flame graph to `--out` (default
bench/.profile/) and prints the functions with the most samples: self (the frame on top) and
inclusive (anywhere on the stack). Samples are only taken while the proxy runs Python or native
code, not while it waits in epoll, so the percentages are shares of the proxy's busy time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402


def summarize(collapsed: Path, top: int) -> str:
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = stack.split(";")
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            incl_counts[frame] += count
    if not total:
        return "no samples (is py-spy allowed to ptrace the process?)"
    out = [f"{total} samples", "", f"top {top} by self samples:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_counts.most_common(top)]
    out += ["", f"top {top} by inclusive samples:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in incl_counts.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="passthrough")
    p.add_argument("--relay", action="store_true", help="profile bench/naive_relay.py instead, for comparison")
    p.add_argument("--variants-file", default=str(compare.BENCH / "variants.yaml"))
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    p.add_argument("--native", action="store_true", help="also sample C extensions (uvloop, aiohttp's parser)")
    p.add_argument("--gc", action="store_true",
                   help="instead of py-spy, time llm-router's garbage collections under the same load")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--out", default=str(compare.BENCH / ".profile"))
    args = p.parse_args(argv)
    pyspy = shutil.which("py-spy")
    if not pyspy and not args.gc:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cores = sorted(compare.os.sched_getaffinity(0))
    proxy_cores, load_cores = ({cores[0]}, {cores[1]}) if len(cores) >= 2 else (None, None)
    if load_cores:
        compare.os.sched_setaffinity(0, load_cores)
    scratch = Path(tempfile.mkdtemp(prefix="llm-router-profile-"))
    mock = None
    systems: list[compare.System] = []
    try:
        port = compare.free_port()
        mock = compare.Proc("mock", [sys.executable, str(compare.BENCH / "mock_upstream.py"), "--port", str(port)],
                            scratch / "mock.log", load_cores)
        deadline = time.perf_counter() + 15
        while True:
            with contextlib.suppress(OSError):
                if compare.http_status(f"http://127.0.0.1:{port}/v1/models") == 200:
                    break
            if time.perf_counter() > deadline:
                raise compare.BenchError("mock upstream did not start")
            time.sleep(0.01)
        ns = argparse.Namespace(variants_file=args.variants_file, variants=args.variant, quick=False)
        skipped: dict[str, str] = {}
        if args.relay:
            systems = [compare.relay_system(f"http://127.0.0.1:{port}")]
        else:
            systems = compare.llm_router_systems(ns, scratch, f"http://127.0.0.1:{port}", skipped)
        if not systems:
            print(f"variant not measurable: {skipped}", file=sys.stderr)
            return 1
        system = systems[0]
        gc_file = scratch / "gc.json"
        if args.gc:
            if args.relay:
                print("--gc works on llm-router only", file=sys.stderr)
                return 2
            system.start_argv = [sys.executable, str(compare.BENCH / "gcstats.py"), str(gc_file),
                                 *system.start_argv[system.start_argv.index("serve"):]]
        system.start(scratch, proxy_cores)
        compare.warm(system, 200)
        load = compare.Load(scratch, load_cores, use_wrk=True)
        stem = out / f"{'aiohttp-relay' if args.relay else args.variant}-c{args.concurrency}"
        if args.gc:
            t0 = time.time()
            result = load.closed_loop(system.url, args.concurrency, args.seconds, 10_000_000)
            t1 = time.time()
            system.stop()
            import gcstats

            data = json.loads(gc_file.read_text())
            summary = gcstats.summarize(data["events"], t0, t1)
            summary.update(load=result, threshold=data["threshold"], tracked_objects=data["tracked_objects"],
                           tracked_kinds=data["tracked_kinds"], frozen_objects=data["frozen_objects"])
            Path(f"{stem}-gc.json").write_text(json.dumps(summary, indent=1))
            print(f"load: {result['rps']:.0f} req/s, p50 {result['p50_us']:.0f} us, p99 {result['p99_us']:.0f} us "
                  f"({load.tool}, {args.concurrency} connections, {args.seconds} s)")
            print(f"gc threshold {data['threshold']}, {data['tracked_objects']} objects tracked at exit, "
                  f"{data['frozen_objects']} frozen; most tracked: "
                  + ", ".join(f"{k} {n}" for k, n in data["tracked_kinds"][:8]))
            for gen in (0, 1, 2):
                g = summary[f"gen{gen}"]
                if g["collections"]:
                    print(f"gen{gen}: {g['collections']:5d} collections, {g['total_ms']:7.1f} ms in all "
                          f"({100 * g['share_of_time']:.1f} % of the time), pause p50 {g['p50_ms']:.2f} ms, "
                          f"p99 {g['p99_ms']:.2f} ms, max {g['max_ms']:.2f} ms; "
                          f"{g['unreachable_freed']} unreachable objects freed")
            return 0
        cmd = [pyspy, "record", "--pid", str(system.proc.pid), "--rate", str(args.rate), "--duration",
               str(args.seconds), "--function", "--format", "raw", "--output", f"{stem}.txt"]
        # --native needs the target paused while its stack is read; without it, sample without pausing.
        cmd.append("--native" if args.native else "--nonblocking")
        spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            result = load.closed_loop(system.url, args.concurrency, args.seconds, 10_000_000)
        finally:
            _, err = spy.communicate(timeout=args.seconds + 60)
        print(f"load: {result['rps']:.0f} req/s, p50 {result['p50_us']:.0f} us, p99 {result['p99_us']:.0f} us "
              f"({load.tool}, {args.concurrency} connections, {args.seconds} s; py-spy sampling slows it)")
        if spy.returncode != 0:
            print(f"py-spy failed: {err.strip()[-500:]}", file=sys.stderr)
            return 1
        report = summarize(Path(f"{stem}.txt"), args.top)
        Path(f"{stem}-summary.txt").write_text(report + "\n")
        print(report)
        print(f"\ncollapsed stacks: {stem}.txt (open with speedscope or flamegraph.pl)")
    finally:
        for s in systems:
            s.stop()
        if mock is not None:
            mock.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
