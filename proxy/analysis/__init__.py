"""Offline analysis: what routing would save on a traffic file, and what a shadow log shows.

    traffic.jsonl --(jsonl.read_lines)--> rows --(replay.Replayer: classify, decide, price)--> ReplayTotals
    shadow.jsonl  --(jsonl.read_lines)--> records --(shadow_report.ShadowTotals)--> per route/tier summary

Both end in plain dataclasses that the command modules print as tables
(`tables`), dump as JSON, or render as one self-contained HTML page with
inline SVG charts (`html_report`, `svg`). Nothing here calls an upstream;
`progress` draws a bar on stderr while big files are read.
"""
