"""Plain-text tables and number formats shared by the CLI output and the HTML reports.

The HTML report prints the very strings the terminal shows, so a figure
can be checked for in both.
"""

from __future__ import annotations

from collections.abc import Sequence

SAVINGS_HEADER = ("strategy", "requests", "tokens", "cost", "cost per 1M requests")


def money(usd: float) -> str:
    """Dollars with enough digits to tell small runs apart (a 20-request demo costs fractions of a cent)."""
    if abs(usd) >= 100:
        return f"${usd:,.2f}"
    if abs(usd) >= 0.01:
        return f"${usd:,.4f}"
    return f"${usd:.6f}"


def count(n: int) -> str:
    return f"{n:,}"


def percent(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share * 100:.{digits}f}%"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1,
             align: str | None = None) -> str:
    """A Markdown table: readable in a terminal, pasteable into a ticket or a README.

    Columns from `numeric_from` on are right-aligned, unless `align` spells each column (`l`/`r`).
    """
    right = [(align[i] == "r") if align else i >= numeric_from for i in range(len(header))]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            cell = str(cell)
            out.append(cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if right[i] else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def savings_rows(requests: int, tokens: int, cost_without: float, cost_with: float) -> list[list[str]]:
    """The three rows of the savings table: no router, with router, savings."""
    per = 1e6 / requests if requests else 0.0
    saved = cost_without - cost_with
    share = saved / cost_without if cost_without else None
    return [
        ["no router (all requested model)", count(requests), count(tokens), money(cost_without), money(cost_without * per)],
        ["with router (by tier)", count(requests), count(tokens), money(cost_with), money(cost_with * per)],
        ["savings", "", "", f"{money(saved)} ({percent(share)})", f"{money(saved * per)} ({percent(share)})"],
    ]


def savings_table(requests: int, tokens: int, cost_without: float, cost_with: float) -> str:
    return markdown(SAVINGS_HEADER, savings_rows(requests, tokens, cost_without, cost_with))
