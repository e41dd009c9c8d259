"""The harness's variant-against-passthrough figures and targets, from synthetic raw data."""

from __future__ import annotations

from . import load_bench_script

compare = load_bench_script("compare")


def system(name: str, rps: list[float], p50_c1: list[float], cpu: float) -> compare.System:
    rounds = range(len(rps))
    data = {
        "ready_s": [0.3],
        "rss_idle_kb": 50_000, "rss_peak_sampled_kb": 60_000, "rss_hwm_sum_kb": 60_000,
        "latency": {
            "c1": [{"round": r, "p50_us": p50_c1[r], "p99_us": p50_c1[r] * 3} for r in rounds],
            "c10": [{"round": r, "p50_us": 300.0, "p99_us": 900.0, "cpu_us_per_req": cpu} for r in rounds],
        },
        "stream": [{"round": r, "ttfb_p50_us": 51_000.0, "ttfb_p99_us": 52_000.0, "p50_us": 117_000.0}
                   for r in rounds],
        "throughput": [{"round": r, "max_rps": rps[r], "saturation_rps": rps[r],
                        "levels": [{"rps": rps[r], "cpu_us_per_req": cpu, "cpu_busy": 99.0}]} for r in rounds],
    }
    return compare.System(name=name, kind="test", url="", data=data)


def figures(telemetry_rps: list[float], telemetry_p50: list[float], full_rps=(5_000, 4_000, 5_200)):
    systems = [
        system("direct", [30_000, 30_000, 30_000], [40, 40, 40], 0),
        system("llm-router:passthrough", [15_000, 12_000, 16_000], [200, 260, 210], 66),
        system("llm-router:telemetry", telemetry_rps, telemetry_p50, 71),
        system("llm-router:passthrough-route-lean", [6_000, 4_600, 6_100], [330, 400, 350], 170),
        system("llm-router:full-pipeline", full_rps, [350, 430, 370], 200),
    ]
    summary = compare.summarize(systems)
    rat = compare.ratios(summary)
    vs = compare.vs_passthrough(systems, summary)
    vs_mode = compare.versus(systems, summary, compare.PASSTHROUGH_MODE, only=(compare.FULL_PIPELINE,))
    return vs, vs_mode, {t["target"]: t for t in compare.targets(summary, rat, vs, vs_mode)}


def test_ratios_are_taken_against_passthrough_in_the_same_run() -> None:
    vs, vs_mode, targets = figures([14_000, 10_800, 15_400], [205, 270, 215])
    tel = vs["llm-router:telemetry"]
    assert abs(tel["rps_ratio"] - 14_000 / 15_000) < 1e-9  # the medians' ratio
    assert [round(x, 3) for x in tel["rps_ratio_rounds"]] == [0.933, 0.9, 0.963]
    assert tel["added_p50_c1_us"] == 5  # per-round differences 5, 10, 5
    assert abs(tel["cpu_ratio"] - 71 / 66) < 1e-9
    assert "llm-router:passthrough" not in vs and "direct" not in vs

    assert targets["telemetry: throughput vs passthrough"]["pass"] is True
    assert targets["telemetry: added p50 (1 client) over passthrough"]["pass"] is True
    # Against plain passthrough the pipeline is shown, not judged: its targets are against the passthrough mode.
    pipeline = vs["llm-router:full-pipeline"]
    assert abs(pipeline["rps_ratio"] - 5_000 / 15_000) < 1e-9 and pipeline["added_p50_c1_us"] == 160
    assert "full pipeline: throughput vs passthrough" not in targets
    assert list(vs_mode) == ["llm-router:full-pipeline"]
    dry_run = vs_mode["llm-router:full-pipeline"]
    assert abs(dry_run["rps_ratio"] - 5_000 / 6_000) < 1e-9 and dry_run["added_p50_c1_us"] == 20
    assert abs(dry_run["cpu_ratio"] - 200 / 170) < 1e-9
    assert targets["full pipeline: throughput vs the passthrough mode"]["pass"] is True  # 0.83
    assert targets["full pipeline: added p50 (1 client) over the passthrough mode"]["pass"] is True


def test_full_pipeline_target_fails_below_four_fifths_of_the_passthrough_mode() -> None:
    _, _, targets = figures([14_000, 10_800, 15_400], [205, 270, 215], full_rps=(4_700, 3_600, 4_800))
    assert targets["full pipeline: throughput vs the passthrough mode"]["pass"] is False  # 4,700 / 6,000


def test_telemetry_targets_fail_when_it_costs_too_much() -> None:
    _, _, targets = figures([13_000, 10_000, 14_000], [260, 330, 270])
    assert targets["telemetry: throughput vs passthrough"]["pass"] is False  # 13,000 / 15,000
    assert targets["telemetry: added p50 (1 client) over passthrough"]["pass"] is False  # +60 us


def test_without_passthrough_there_is_nothing_to_compare() -> None:
    systems = [system("direct", [30_000], [40], 0), system("llm-router:telemetry", [14_000], [205], 71)]
    summary = compare.summarize(systems)
    assert compare.vs_passthrough(systems, summary) == {}
    assert compare.targets(summary, compare.ratios(summary), {}) == []
