"""Shadow-log aggregates as text, JSON and an HTML page."""

from __future__ import annotations

from typing import Any

from proxy.analysis import svg
from proxy.analysis.html_report import page
from proxy.analysis.shadow_report import SIM_BINS, Rule, ShadowTotals, recommend
from proxy.analysis.tables import count, markdown, money, percent

TIER_ORDER = {"simple": 0, "standard": 1, "complex": 2}


def _keys(totals: ShadowTotals) -> list[tuple[str, str]]:
    return sorted(totals.groups, key=lambda k: (k[0], TIER_ORDER.get(k[1], 9), k[1]))


def _sim(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def to_json(totals: ShadowTotals, rule: Rule, meta: dict[str, Any]) -> dict[str, Any]:
    groups = []
    for route, tier in _keys(totals):
        g = totals.groups[(route, tier)]
        verdict, sentence = recommend(g, rule)
        groups.append({
            "route": route, "tier": tier, "records": g.records, "shadow_errors": g.shadow_errors,
            "primary_errors": g.primary_errors, "models": g.models, "compared": len(g.similarities),
            "similarity": {"p10": g.quantile(0.1), "p50": g.quantile(0.5),
                           "mean": sum(g.similarities) / len(g.similarities) if g.similarities else None,
                           f"share_at_least_{rule.similarity:g}": g.share_at_least(rule.similarity),
                           "histogram": g.histogram()},
            "latency_ms_p50": {"primary": g.quantile(0.5, g.primary_latency), "shadow": g.quantile(0.5, g.shadow_latency)},
            "priced": g.priced, "cost_actual_usd": g.cost_actual, "cost_counterfactual_usd": g.cost_counterfactual,
            "savings_usd": g.cost_actual - g.cost_counterfactual,
            "recommendation": {"verdict": verdict, "text": sentence},
        })
    return {
        **meta,
        "records": totals.records,
        "first_ts": totals.first_ts.isoformat() if totals.first_ts else None,
        "last_ts": totals.last_ts.isoformat() if totals.last_ts else None,
        "groups": groups,
        "cost_actual_usd": sum(g.cost_actual for g in totals.groups.values()),
        "cost_counterfactual_usd": sum(g.cost_counterfactual for g in totals.groups.values()),
        "projection": totals.monthly_projection(meta.get("shadow_share", 1.0)),
        "rule": vars(rule),
        "worst_diffs": totals.worst_diffs(),
        "bad_lines": {"count": totals.bad.count,
                      "examples": [{"line": ln, "reason": why} for ln, why in sorted(totals.bad.examples)]},
    }


def text(totals: ShadowTotals, rule: Rule, meta: dict[str, Any]) -> str:
    rows, costs, advice = [], [], []
    for route, tier in _keys(totals):
        g = totals.groups[(route, tier)]
        mean = sum(g.similarities) / len(g.similarities) if g.similarities else None
        rows.append([route, tier, count(g.records), count(g.shadow_errors), _sim(g.quantile(0.1)),
                     _sim(g.quantile(0.5)), _sim(mean), percent(g.share_at_least(rule.similarity))])
        saved = g.cost_actual - g.cost_counterfactual
        costs.append([route, tier, ", ".join(sorted(g.models)) or "-", count(g.priced), money(g.cost_actual),
                      money(g.cost_counterfactual),
                      f"{money(saved)} ({percent(saved / g.cost_actual if g.cost_actual else None)})"])
        advice.append(f"- {route} / {tier} tier: {recommend(g, rule)[1]}")
    out = ["agreement (similarity of the router's answer to the one the app received):",
           markdown(("route", "tier", "shadowed", "shadow errors", "p10", "p50", "mean",
                     f"≥ {rule.similarity:g}"), rows, numeric_from=2), "",
           "cost: actual (requested model) vs counterfactual (router's choice), same requests:",
           markdown(("route", "tier", "router model", "priced", "actual", "counterfactual", "savings"),
                    costs, numeric_from=3), ""]
    actual = sum(g.cost_actual for g in totals.groups.values())
    counter = sum(g.cost_counterfactual for g in totals.groups.values())
    out.append(f"total: actual {money(actual)}, counterfactual {money(counter)}, savings {money(actual - counter)}")
    projection = totals.monthly_projection(meta.get("shadow_share", 1.0))
    if projection:
        out.append(f"projected monthly savings at the observed volume ({projection['requests_per_day']:,.0f} "
                   f"requests/day{', scaled by --shadow-share' if meta.get('shadow_share', 1.0) != 1.0 else ''}): "
                   f"{money(projection['monthly_savings'])}"
                   + (f" (observed over only {totals.duration_s:,.0f} s: a rough figure)"
                      if (totals.duration_s or 0) < 3600 else ""))
    else:
        out.append("projected monthly savings: n/a (needs priced records spanning some time)")
    out += ["", "recommendation per route and tier:", *advice,
            (f"rule: ready when ≥ {rule.min_samples} samples, ≤ {rule.max_error_rate * 100:g}% shadow errors and "
             f"similarity ≥ {rule.similarity:g} on ≥ {rule.ready_share * 100:g}% of them; review at ≥ "
             f"{rule.review_share * 100:g}%. Similarity is word overlap blended with length ratio: a screening "
             "signal for where to look, not a quality judgment.")]
    worst = totals.worst_diffs()
    if worst:
        out += ["", "worst diffs (content was captured):"]
        for w in worst:
            out.append(f"- line {w['line']}, {w['route']} / {w['tier']}, similarity {w['similarity']:.3f}: "
                       f"{w['primary_model']}: {_clip(w['primary_text'])!r} | {w['shadow_model']}: {_clip(w['shadow_text'])!r}")
    return "\n".join(out) + "\n"


def _clip(s: str, n: int = 90) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def html(totals: ShadowTotals, rule: Rule, meta: dict[str, Any], printed: str) -> str:
    keys = _keys(totals)
    by_tier: dict[str, list[int]] = {}
    for route, tier in keys:
        hist = totals.groups[(route, tier)].histogram()
        merged = by_tier.setdefault(tier, [0] * SIM_BINS)
        for i, n in enumerate(hist):
            merged[i] += n
    actual = sum(g.cost_actual for g in totals.groups.values())
    counter = sum(g.cost_counterfactual for g in totals.groups.values())
    charts = [
        svg.histogram("Similarity distribution by tier", [i / SIM_BINS for i in range(SIM_BINS + 1)], by_tier),
        svg.bars("Cost: actual vs counterfactual", ["actual (requested)", "counterfactual (router)"],
                 [actual, counter], money),
        svg.bars("Shadowed requests by tier", [f"{r} / {t}" for r, t in keys],
                 [totals.groups[k].records for k in keys], lambda v: f"{int(v):,}"),
    ]
    return page(f"llm-router shadow report: {meta['file']}", f"{totals.records:,} shadowed requests", printed, charts)
