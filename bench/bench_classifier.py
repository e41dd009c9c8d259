"""Classifier latency and memory benchmark (a harness, not a test).

    python bench/bench_classifier.py [--data LABELED.jsonl] [--repeat 20]
    python bench/bench_classifier.py --traffic-only [--repeat 20]   # request-path figures only

Measures, on one thread:
  * the request path on the bundled traffic (examples/traffic.jsonl, 300
    chat requests) with the lean policy's cascade (rules + TF-IDF): classify
    mean / p50 / p99 in microseconds, and the routing decision (sticky key,
    `decide`, bucket hash) plus the body rewrite (`with_model`), with `model`
    first in the body and with `model` after `messages` (the order the
    OpenAI SDKs write);
  * rules + ONNX TF-IDF per request (what every request pays), p50/p99;
  * the embedding stage alone (MiniLM int8 + exemplar lookup), p50/p99;
  * the full cascade as served (embedding only for ambiguous requests);
  * RSS added by loading rules + TF-IDF and by the embedding stage, each in
    a fresh interpreter so earlier imports do not hide the cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "tests" / "classifier" / "data" / "sample_dev.jsonl"

RSS_PROBE = """
import json, sys
from pathlib import Path
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
import proxy.classifier as pc
base = rss()
stages = sys.argv[1].split(',')
c = pc.Classifier.load(pc.ClassifierSettings(stages=stages), Path(sys.argv[2]))
for i in range(300):
    c.classify({'messages': [{'role': 'user', 'content': f'how do I fix error {i} in my python script?'}]})
print(json.dumps({'base_mb': base, 'loaded_mb': rss()}))
"""


def requests_from(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "messages" in row:
            out.append({"messages": row["messages"]})
        else:
            out.append({"model": "gpt-4o", "messages": [{"role": "user", "content": row["text"]}]})
    # Shapes the labeled data lacks: system prompt, multi-turn, tools, JSON mode.
    out.append({"messages": [{"role": "system", "content": "You are a support bot. " * 20},
                             {"role": "user", "content": "where is my order?"},
                             {"role": "assistant", "content": "Let me check."},
                             {"role": "user", "content": "it was due yesterday"}],
                "tools": [{"type": "function", "function": {"name": "track", "parameters": {}}}]})
    out.append({"messages": [{"role": "user", "content": "extract the names as json: Ann met Bob."}],
                "response_format": {"type": "json_object"}})
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn, items, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds per call.

    CPU time is what the call itself costs; on a busy machine wall time also
    counts the time the thread waited for a core, so both are reported.
    """
    for item in items[:20]:
        fn(item)  # warm-up: first calls allocate ONNX buffers
    wall, cpu = [], []
    for _ in range(repeat):
        for item in items:
            start, start_cpu = time.perf_counter(), time.thread_time()
            fn(item)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def report(name: str, samples: tuple[list[float], list[float]]) -> dict:
    wall, cpu = samples
    row = {"p50_ms": round(pct(wall, 50), 4), "p99_ms": round(pct(wall, 99), 4),
           "cpu_p50_ms": round(pct(cpu, 50), 4), "cpu_p99_ms": round(pct(cpu, 99), 4), "n": len(wall)}
    print(f"{name:38s} wall p50 {row['p50_ms']:8.4f} p99 {row['p99_ms']:8.4f} ms | "
          f"cpu p50 {row['cpu_p50_ms']:8.4f} p99 {row['cpu_p99_ms']:8.4f} ms | n={row['n']}")
    return row


def _pass_cpu_us(fn, items, repeat: int) -> list[float]:
    """Thread-CPU microseconds per item, one figure per pass over `items` (no per-call timer overhead)."""
    out = []
    for _ in range(repeat):
        start = time.thread_time()
        for item in items:
            fn(item)
        out.append((time.thread_time() - start) / len(items) * 1e6)
    return out


def _per_call_us(fn, items, repeat: int) -> list[float]:
    """Wall microseconds of every call (perf_counter, ~0.05 us of timer overhead each)."""
    out = []
    clock = time.perf_counter
    for _ in range(repeat):
        for item in items:
            start = clock()
            fn(item)
            out.append((clock() - start) * 1e6)
    return out


def _us_row(name: str, fn, items, repeat: int) -> dict:
    for item in items:
        fn(item)  # warm-up
    passes = _pass_cpu_us(fn, items, repeat)
    calls = _per_call_us(fn, items, repeat)
    row = {"cpu_mean_us": round(min(passes), 2), "cpu_mean_us_median_pass": round(pct(passes, 50), 2),
           "wall_mean_us": round(sum(calls) / len(calls), 2), "p50_us": round(pct(calls, 50), 2),
           "p99_us": round(pct(calls, 99), 2), "n": len(items)}
    print(f"{name:44s} cpu mean {row['cpu_mean_us']:7.2f} us (median pass {row['cpu_mean_us_median_pass']:7.2f}) | "
          f"wall mean {row['wall_mean_us']:7.2f} p50 {row['p50_us']:7.2f} p99 {row['p99_us']:8.2f} us")
    return row


def traffic(path: Path, policy_path: Path, repeat: int) -> dict:
    """Request-path costs on the bundled traffic: classification, decision, rewrite."""
    import orjson
    import yaml

    from proxy.classifier import Classifier
    from proxy.classifier.policy_file import load_settings
    from proxy.config.policy import Policy
    from proxy.config.schema import Route
    from proxy.pricing import PriceTable
    from proxy.routing.decide import decide, sticky_key
    from proxy.routing.rewrite import with_model
    from proxy.routing.table import compile_route

    settings, base = load_settings(policy_path)
    classifier = Classifier.load(settings, base)
    policy = Policy.model_validate(yaml.safe_load(policy_path.read_text(encoding="utf-8")))
    prices = PriceTable.load()
    route = compile_route(Route.model_validate({"name": "chat", "mode": "canary", "percent": 100}))
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    model_first = [orjson.dumps(row) for row in rows]
    model_last = [orjson.dumps({**{k: v for k, v in row.items() if k != "model"}, "model": row["model"]})
                  for row in rows]
    payloads = [orjson.loads(body) for body in model_first]
    print(f"{len(rows)} requests from {path.relative_to(REPO) if path.is_relative_to(REPO) else path}, "
          f"policy {policy_path.name} (stages {','.join(settings.stages)}), x{repeat}")
    results = {"classify": _us_row("classify (rules + ONNX TF-IDF)", classifier.classify, payloads, repeat)}
    classified = [(body_first, body_last, payload, classifier.classify(payload))
                  for body_first, body_last, payload in zip(model_first, model_last, payloads)]
    headers: dict[str, str] = {}

    def routed(item, which: int) -> bytes | None:
        payload, classification = item[2], item[3]
        decision = decide(route=route, tiers=policy.tiers, never_upgrade=policy.never_upgrade, prices=prices,
                          requested_model=payload["model"], classification=classification,
                          key=sticky_key(route, headers, payload, "req-0123456789abcdef"))
        return with_model(item[which], payload, decision.router_model) if decision.rewrites else None

    def decision_only(item) -> object:
        payload = item[2]
        return decide(route=route, tiers=policy.tiers, never_upgrade=policy.never_upgrade, prices=prices,
                      requested_model=payload["model"], classification=item[3],
                      key=sticky_key(route, headers, payload, "req-0123456789abcdef"))

    rewrites = sum(1 for item in classified if decision_only(item).rewrites)
    print(f"  decisions that rewrite the body: {rewrites} of {len(classified)}")
    results["decide"] = _us_row("sticky key + decide", decision_only, classified, repeat)
    results["decide_rewrite_model_first"] = _us_row(
        "decide + rewrite, model first in body", lambda item: routed(item, 0), classified, repeat)
    results["decide_rewrite_model_last"] = _us_row(
        "decide + rewrite, model after messages", lambda item: routed(item, 1), classified, repeat)
    results["rewrite_model_first"] = _us_row(
        "with_model alone, model first", lambda item: with_model(item[0], item[2], "gpt-4o-mini"), classified, repeat)
    results["rewrite_model_last"] = _us_row(
        "with_model alone, model after messages", lambda item: with_model(item[1], item[2], "gpt-4o-mini"),
        classified, repeat)
    classifier.close()
    return results


def rss(stages: str, policies: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, stages, str(policies)],
                          capture_output=True, text=True, check=True, cwd=REPO)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    added = data["loaded_mb"] - data["base_mb"]
    print(f"RSS added by [{stages}]: {added:.1f} MB (from {data['base_mb']:.1f} to {data['loaded_mb']:.1f} MB)")
    return {"stages": stages, "added_mb": round(added, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--policies", type=Path, default=REPO / "policies")
    parser.add_argument("--traffic", type=Path, default=REPO / "examples" / "traffic.jsonl",
                        help="chat requests for the request-path figures")
    parser.add_argument("--policy", type=Path, default=REPO / "policies" / "lean.yaml",
                        help="policy whose classifier settings the request-path figures use")
    parser.add_argument("--traffic-only", action="store_true",
                        help="only the request-path figures (classify, decide, rewrite) on --traffic")
    args = parser.parse_args()

    results = {"traffic": traffic(args.traffic, args.policy, args.repeat)}
    if args.traffic_only:
        print(json.dumps(results))
        return 0

    from proxy.classifier import Classifier, ClassifierSettings
    from proxy.classifier.features import bounded_text
    from proxy.classifier.request_text import view_of_request

    items = requests_from(args.data)
    print(f"{len(items)} requests from {args.data}, x{args.repeat}; load average {os.getloadavg()[0]:.2f}")
    cheap = Classifier.load(ClassifierSettings(stages=["rules", "tfidf"]), args.policies)
    results["rules+tfidf"] = report("rules + ONNX TF-IDF", timed(cheap.classify, items, args.repeat))
    full = Classifier.load(ClassifierSettings(), args.policies)
    texts = [bounded_text(view_of_request(r).text, 6000) for r in items]
    reaching = [full._cheap(view_of_request(r)).text for r in items if full._cheap(view_of_request(r)).ambiguous]
    short = [t for t in texts if len(t.split()) <= 20]
    embed_repeat = max(1, args.repeat // 4)
    results["embedding"] = report("embedding stage, all texts", timed(full._embedding.score, texts, embed_repeat))
    results["embedding_short"] = report("embedding stage, texts <= 20 words", timed(full._embedding.score, short, embed_repeat))
    if reaching:
        results["embedding_reached"] = report("embedding stage, texts that reach it",
                                              timed(full._embedding.score, reaching, 4 * embed_repeat))
    ambiguous = len(reaching)
    results["cascade"] = report("full cascade (inline)", timed(full.classify, items, max(1, args.repeat // 4)))
    print(f"share of requests sent to the embedding stage: {ambiguous / len(items):.1%}")
    results["rss"] = [rss("rules,tfidf", args.policies), rss("rules,tfidf,embedding", args.policies)]
    full.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
