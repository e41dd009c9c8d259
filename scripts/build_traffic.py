"""Build examples/traffic.jsonl from the labeled prompt data.

Run by a developer when the sample traffic should change; tests and CI only
read the committed output. Deterministic: the same input files give the same
bytes (rows are picked and shuffled by hashes of their ids, not by a clock or
an unseeded generator).

    python3 scripts/build_traffic.py --data ../shared/data/labeled/dev.jsonl

Rows come from the dev split (held out from fitting the classifier's weights)
and only from sources whose licenses allow redistribution; each output line
is an OpenAI chat request for gpt-4o plus `x_*` keys that replay and the demo
never send upstream.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# source -> rows taken. Sources whose repositories carry no license file
# (routerdc_*) or whose upstream terms are unclear (logic-grid) are left out.
PICK: dict[str, int] = {
    "banking77": 30,
    "clinc150": 30,
    "snips": 30,
    "nq_open": 30,
    "self_instruct_seed": 18,
    "llmrouter_mbpp": 40,
    "llmrouter_commongen": 15,
    "gsm8k": 45,
    "llmrouter_math": 35,
    "arena_hard_v0.1": 27,
}


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build(rows: list[dict]) -> list[dict]:
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    picked = []
    for source, n in PICK.items():
        pool = sorted(by_source.get(source, []), key=lambda r: _key(r["id"]))
        if len(pool) < n:
            raise SystemExit(f"{source}: only {len(pool)} rows, {n} wanted")
        picked += pool[:n]
    picked.sort(key=lambda r: _key("order:" + r["id"]))  # mixed order, so any prefix is a mix
    return [
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": r["text"]}],
            "x_id": r["id"],
            "x_source": r["source"],
            "x_license": r["license"],
            "x_tier": r["tier"],
        }
        for r in picked
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "labeled" / "dev.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "traffic.jsonl")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = build(rows)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in out:
        counts[r["x_tier"]] = counts.get(r["x_tier"], 0) + 1
    print(f"wrote {len(out)} rows to {args.out}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
