"""What the demo prints, computed from the sidecar's own spans and shadow log."""

from __future__ import annotations

from collections import Counter
from typing import Any

from proxy.analysis.shadow_report import Rule, ShadowTotals, recommend
from proxy.analysis.tables import count, markdown, percent, savings_table
from proxy.demo.runner import DemoRun
from proxy.demo.simulated import SCALE

TIERS = ("simple", "standard", "complex")


def request_spans(run: DemoRun, route: str) -> list[dict[str, Any]]:
    return [dict(s.attributes) for s in run.spans
            if s.attributes.get("llm_router.route") == route and not s.attributes.get("llm_router.shadow")]


def savings(run: DemoRun) -> dict[str, Any]:
    """The canary phase as the sidecar accounted for it: cost paid vs the requested model's cost."""
    spans = request_spans(run, "canary")
    tokens = sum(int(a.get("gen_ai.usage.input_tokens", 0)) + int(a.get("gen_ai.usage.output_tokens", 0)) for a in spans)
    return {
        "requests": len(spans),
        "tokens": tokens,
        "cost_no_router": sum(float(a.get("llm_router.counterfactual_cost", 0.0)) for a in spans),
        "cost_with_router": sum(float(a.get("estimated_cost", 0.0)) for a in spans),
        "tiers": Counter(a.get("classified_intent", "unknown") for a in spans),
        "stages": Counter(a.get("llm_router.stage", "-") for a in spans),
        "models": Counter(a.get("model_used", "-") for a in spans),
    }


def _ms(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, max(0, round(q * (len(data) - 1))))] * 1000 if data else 0.0


def shadow_totals(run: DemoRun) -> ShadowTotals:
    from proxy.analysis.jsonl import parse_object

    totals = ShadowTotals()
    if run.shadow_log.is_file():
        with open(run.shadow_log, "rb") as stream:
            for lineno, line in enumerate(stream, 1):
                record, _ = parse_object(line)
                if record is not None:
                    totals.add(lineno, record)
    return totals


def render(run: DemoRun, kept: bool) -> str:
    s = savings(run)
    n = s["requests"] or 1
    failed = sum(not r.ok for r in run.replies)
    mix = markdown(("tier", "requests", "share", "model used"),
                   [[t, count(s["tiers"].get(t, 0)), percent(s["tiers"].get(t, 0) / n),
                     _models_for(run, t)] for t in TIERS], align="lrrl")
    stages = ", ".join(f"{stage} {c}" for stage, c in s["stages"].most_common())
    out = [
        ("SIMULATED UPSTREAM: answers are canned text, token counts are real local counts of that text, "
         f"latencies are typical per-model figures scaled by {SCALE:g}. No request left this machine."),
        "",
        f"classification mix ({s['requests']} requests through the canary route; decided by: {stages}):",
        mix,
        "",
        "savings (canary phase, costs from the sidecar's spans at list prices, simulated usage):",
        savings_table(s["requests"], s["tokens"], s["cost_no_router"], s["cost_with_router"]),
        "",
    ]
    out += _shadow_lines(run)
    direct, proxied = run.overhead.get("direct", []), run.overhead.get("proxied", [])
    if direct and proxied:
        out += ["", f"latency overhead ({len(direct)} sequential requests, simulated delay off, classification included;",
                ("client, sidecar and simulated upstream share one event loop here, which overstates it: bench/ "
                 "measures the sidecar on its own):"),
                markdown(("path", "p50", "p99"), [
                    ["direct to the simulated upstream", f"{_ms(direct, .5):.2f} ms", f"{_ms(direct, .99):.2f} ms"],
                    ["through the sidecar", f"{_ms(proxied, .5):.2f} ms", f"{_ms(proxied, .99):.2f} ms"],
                    ["added by the sidecar", f"{_ms(proxied, .5) - _ms(direct, .5):+.2f} ms",
                     f"{_ms(proxied, .99) - _ms(direct, .99):+.2f} ms"]])]
    shadow_spans = sum(1 for sp in run.spans if sp.attributes.get("llm_router.shadow"))
    where = (f"also sent to the OTLP exporter for {run.otlp_endpoint} (export errors are logged in the sidecar log)"
             if run.otlp_endpoint
             else "set OTEL_EXPORTER_OTLP_ENDPOINT to also send them to a collector")
    place = str(run.workdir) if kept else f"{run.workdir} (deleted on exit; --keep DIR keeps it)"
    out += ["",
            (f"spans: {len(run.spans)} collected in memory ({len(run.spans) - shadow_spans} request spans, "
             f"{shadow_spans} shadow spans linked to their request); {where}"),
            f"shadow log: {run.shadow_log} ({run.shadow_written} records)",
            f"sidecar JSON logs: {run.sidecar_log}; config: {run.config_path}",
            f"work dir: {place}",
            f"done in {run.wall_s:.1f} s; {failed} failed request(s); sidecar and simulated upstream stopped."]
    return "\n".join(out)


def _models_for(run: DemoRun, tier: str) -> str:
    models = Counter(a.get("model_used") for a in request_spans(run, "canary") if a.get("classified_intent") == tier)
    return ", ".join(str(m) for m, _ in models.most_common()) or "-"


def _shadow_lines(run: DemoRun) -> list[str]:
    totals = shadow_totals(run)
    rule = Rule(min_samples=10)
    lines = [(f"shadow phase: {run.shadow_written} requests had a cheaper choice and were shadowed "
              f"({run.shadow_dropped} dropped); agreement with the answer the app received:")]
    rows = []
    for (route, tier), g in sorted(totals.groups.items(), key=lambda kv: TIERS.index(kv[0][1]) if kv[0][1] in TIERS else 9):
        rows.append([tier, count(g.records), f"{g.quantile(0.5) or 0:.3f}", percent(g.share_at_least(rule.similarity)),
                     recommend(g, rule)[1]])
    if rows:
        lines.append(markdown(("tier", "shadowed", "similarity p50", f"≥ {rule.similarity:g}", "verdict"), rows,
                              align="lrrrl"))
    lines.append("(`llm-router report` on the shadow log gives the full analysis; the demo uses 10 samples "
                 "as the minimum instead of 30.)")
    return lines
