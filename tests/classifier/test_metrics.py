import numpy as np

from proxy.classifier.metrics import find_model, routing_curve, tier_metrics


def curve(scores, strong, weak):
    n = len(scores)
    return routing_curve(np.asarray(scores, float), np.asarray(strong, float), np.asarray(weak, float),
                         np.ones(n), np.zeros(n))


def test_tier_metrics_and_dangerous_rate():
    truth = ["simple", "complex", "complex", "standard"]
    pred = ["simple", "simple", "complex", "complex"]
    report = tier_metrics(truth, pred)
    assert report["accuracy"] == 0.5
    assert report["dangerous_misroutes"] == 1 and report["dangerous_misroute_rate"] == 0.5
    assert report["confusion"]["matrix"][2] == [1, 0, 1]


def test_constant_scores_route_like_random():
    rng = np.random.default_rng(0)
    strong = rng.integers(0, 2, 200)
    weak = strong * rng.integers(0, 2, 200)
    assert abs(curve(np.zeros(200), strong, weak)["apgr"] - 0.5) < 1e-9


def test_oracle_beats_random_and_cpt():
    strong = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    weak = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    gap = strong - weak
    result = curve(gap.astype(float), strong, weak)
    assert result["apgr"] > 0.85
    assert result["cpt50"] == 10.0 and result["cpt80"] == 20.0


def test_model_names_match_by_suffix():
    results = {"mistralai/mixtral-8x7b-chat": {}, "gpt-4-1106-preview": {}}
    assert find_model(results, "mixtral-8x7b-chat") == "mistralai/mixtral-8x7b-chat"
    assert find_model(results, "gpt-4-1106-preview") == "gpt-4-1106-preview"
    assert find_model(results, "nope") is None
