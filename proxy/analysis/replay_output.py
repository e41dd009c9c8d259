"""Replay totals as text, JSON and an HTML page."""

from __future__ import annotations

from typing import Any

from proxy.analysis import svg
from proxy.analysis.html_report import page
from proxy.analysis.tables import count, markdown, money, percent, savings_table
from proxy.analysis.totals import BINS, TIERS, ReplayTotals


def sweep(totals: ReplayTotals) -> list[dict[str, Any]]:
    """The threshold sweep, with the outcomes' mean quality at each point when outcomes were given."""
    points = totals.bins.sweep()
    if totals.quality is not None:
        for point in points:
            point["quality"] = totals.quality.at(round(point["threshold"] * BINS))
    return points


def to_json(totals: ReplayTotals, meta: dict[str, Any]) -> dict[str, Any]:
    without, with_router = totals.cost_requested, totals.cost_router
    n = totals.requests
    return {
        **meta,
        "lines": totals.lines,
        "requests": n,
        "tokens": totals.tokens,
        "estimated_usage_rows": totals.estimated_input,
        "unpriced_rows": totals.unpriced,
        "unpriced_models": dict(totals.unpriced_models),
        "cost_usd": {"no_router": without, "with_router": with_router, "savings": without - with_router,
                     "savings_share": (without - with_router) / without if without else None},
        "cost_per_1m_requests_usd": {"no_router": without * 1e6 / n if n else None,
                                     "with_router": with_router * 1e6 / n if n else None},
        "tiers": {
            tier: {"requests": t.requests, "share": t.requests / n if n else 0.0,
                   "models": dict(t.models), "input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
                   "cost_no_router_usd": t.cost_requested, "cost_with_router_usd": t.cost_router}
            for tier, t in totals.tiers.items()
        },
        "stages": dict(totals.stages),
        "requested_models": dict(totals.requested_models),
        "dangerous_misroutes": totals.dangerous(),
        "confusion": [{"label": a, "predicted": b, "count": c} for (a, b), c in sorted(totals.confusion.items())],
        "threshold_sweep": sweep(totals),
        "quality": totals.quality.summary() if totals.quality is not None else None,
        "bad_lines": {"count": totals.bad.count,
                      "examples": [{"line": ln, "reason": why} for ln, why in sorted(totals.bad.examples)]},
    }


def tier_table(totals: ReplayTotals) -> str:
    n = totals.requests
    rows = []
    for tier in TIERS:
        t = totals.tiers[tier]
        models = ", ".join(m for m, _ in t.models.most_common()) or "-"
        rows.append([tier, percent(t.requests / n if n else None), count(t.requests), models,
                     money(t.cost_requested), money(t.cost_router)])
    return markdown(("tier", "share", "requests", "model", "cost (no router)", "cost (with router)"), rows,
                    align="lrrlrr")


def confusion_table(totals: ReplayTotals) -> str:
    rows = [[label] + [count(totals.confusion.get((label, p), 0)) for p in TIERS] for label in TIERS]
    return markdown(("label \\ routed as", *TIERS), rows)


def text(totals: ReplayTotals, meta: dict[str, Any]) -> str:
    out = [savings_table(totals.requests, totals.tokens, totals.cost_requested, totals.cost_router), "",
           "per tier:", tier_table(totals), ""]
    danger = totals.dangerous()
    if danger is not None:
        out.append(f"dangerous misroutes (labeled complex, routed to the simple tier): {danger['count']} of "
                   f"{danger['labeled_complex']} ({percent(danger['rate'])})"
                   + (f"; first lines: {', '.join(map(str, danger['example_lines'][:10]))}" if danger["count"] else ""))
        out += [confusion_table(totals), ""]
    else:
        out += ["dangerous misroutes: no labeled rows (add \"x_tier\" to rows to measure them)", ""]
    if meta.get("outcomes"):
        q = totals.quality.summary() if totals.quality is not None else None
        if q is None:
            out.append(f"outcomes {meta['outcomes']}: no traffic row matched an outcome row (by x_id/id or text)")
        else:
            cheap, strong = meta["outcome_models"]
            out.append(f"answer quality from outcomes ({q['matched_rows']:,} matched rows; cheap = {cheap}, "
                       f"strong = {strong}): with router {q['router']:.3f}, all strong {q['all_strong']:.3f}, "
                       f"all cheap {q['all_cheap']:.3f}")
        out.append("")
    return "\n".join(out)


def html(totals: ReplayTotals, meta: dict[str, Any], printed: str) -> str:
    labels = ["no router", "with router"]
    charts = [
        svg.bars("Cost by strategy", labels, [totals.cost_requested, totals.cost_router], money),
        svg.bars("Tier mix (requests)", list(TIERS), [totals.tiers[t].requests for t in TIERS],
                 lambda v: f"{int(v):,} ({percent(v / totals.requests if totals.requests else None)})"),
    ]
    points_all = sweep(totals)
    base = totals.cost_requested or 1.0
    q = totals.quality.summary() if totals.quality is not None else None
    if q is not None:
        charts.append(svg.line(
            "Cost vs quality (outcomes): simple-threshold sweep",
            [(s["cost"] / base * 100, s["quality"]) for s in points_all],
            x_label="cost (% of no router)", y_label=f"mean outcome score ({q['matched_rows']:,} rows)",
            x_fmt=lambda v: f"{v:.0f}%", y_fmt=lambda v: f"{v:.2f}",
            marks=[(totals.cost_router / base * 100, q["router"], "policy")], y_from_zero=False))
    if totals.dangerous() is not None:
        points = [(s["dangerous_rate"] * 100, s["cost"] / base * 100) for s in points_all]
        charts.append(svg.line(
            "Cost vs quality: simple-threshold sweep", points,
            x_label="dangerous misroutes (% of labeled complex)", y_label="cost (% of no router)",
            x_fmt=lambda v: f"{v:.1f}%", y_fmt=lambda v: f"{v:.0f}%",
            marks=[(totals.dangerous()["rate"] * 100, totals.cost_router / base * 100, "policy")]))
    else:
        points = [(s["threshold"], s["cost"] / base * 100) for s in points_all]
        charts.append(svg.line("Cost vs simple threshold", points, x_label="simple threshold on the score",
                               y_label="cost (% of no router)", y_fmt=lambda v: f"{v:.0f}%"))
    edges = [i / 20 for i in range(21)]
    hist = [sum(totals.bins.rows[i * 5:(i + 1) * 5]) for i in range(20)]
    charts.append(svg.histogram("Complexity score distribution", edges, {"requests": hist}))
    notes = [f"Policy: {meta['policy']}. Classifier stages: {', '.join(meta['stages'])}.",
             meta["token_note"],
             ("The sweep moves only the simple threshold: requests below it go to the simple tier's model, "
              "the rest to the model of their tier (standard for those the policy calls simple).")]
    return page(f"llm-router replay: {meta['file']}", f"{totals.requests:,} requests", printed, charts, notes)
