"""The results table: each row pairs a reconciler measurement with a baseline and a target."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from ab import Verdict
from measure import Sample


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    reconciler: str  # formatted measurement
    baseline: str  # "name: value", or "-"
    ratio: str  # baseline / reconciler, or "-"
    target: str
    holds: str  # "yes", "NO", "-" (no target) or "n/a" (not measured)
    reconciler_value: float | None = None
    baseline_value: float | None = None
    ratio_value: float | None = None

    def to_json(self) -> dict[str, object]:
        """The row as a dict."""
        return asdict(self)


def _seconds(value: float | None, estimated: bool = False) -> str:
    if value is None:
        return "n/a"
    text = f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return text + (" (est.)" if estimated else "")


def timing_row(
    scenario: str,
    rec: Sample | None,
    base: Sample | None = None,
    base_label: str = "",
    target: str = "",
    check: Callable[[float, float | None], bool] | None = None,
) -> Row:
    """A row comparing ``rec`` (seconds) with ``base``; ``check(rec, ratio)`` says if it holds."""
    rec_value = rec.median if rec is not None and rec.error is None else None
    base_value = base.median if base is not None and base.error is None else None
    ratio = base_value / rec_value if rec_value and base_value else None
    if base is None:
        baseline = "-"
    else:
        estimated = base.estimated_from is not None
        baseline = f"{base_label}: {_seconds(base_value, estimated)}"
    if check is None:
        holds = "-"
    elif rec_value is None:
        holds = "n/a"
    else:
        holds = "yes" if check(rec_value, ratio) else "NO"
    rec_text = _seconds(rec_value) if rec is None or rec.error is None else "error"
    return Row(
        scenario=scenario,
        reconciler=rec_text,
        baseline=baseline,
        ratio=f"{ratio:.2f}x" if ratio is not None else "-",
        target=target or "-",
        holds=holds,
        reconciler_value=rec_value,
        baseline_value=base_value,
        ratio_value=ratio,
    )


def rss_row(scenario: str, rec: Sample | None, limit_mb: float) -> Row:
    """Peak RSS of a sample against a limit in MB (10^6 bytes)."""
    value = None
    if rec is not None and rec.error is None and rec.rss_kib:
        value = max(rec.rss_kib) * 1024 / 1e6
    return Row(
        scenario=scenario,
        reconciler=f"{value:.1f} MB" if value is not None else "n/a",
        baseline="-",
        ratio="-",
        target=f"<= {limit_mb:.0f} MB",
        holds="n/a" if value is None else ("yes" if value <= limit_mb else "NO"),
        reconciler_value=value,
    )


def render(rows: list[Row]) -> str:
    """A plain-text table."""
    headers = ("scenario", "reconciler", "baseline", "base/rec", "target", "holds?")
    cells = [headers] + [
        (r.scenario, r.reconciler, r.baseline, r.ratio, r.target, r.holds) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    right = {1, 3}

    def line(cols: tuple[str, ...]) -> str:
        parts = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cols)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells[1:]]
    return "\n".join(out)


def render_ab(rows: Sequence[Verdict], title: str, overall: str, off: str | None) -> str:
    """The same-run A/B table (issue 20's "nothing else gets slower") and its verdict line;
    ``off`` says why there is no old side at all."""
    out = [title]
    if off is not None or not rows:
        out.append(f"nothing else gets slower: n/a ({off or 'no reconciler row measured'})")
        return "\n".join(out)
    headers = ("scenario", "new", "old", "new/old", "runs new/old", "verdict")
    cells = [headers] + [
        (
            r.scenario,
            _seconds(r.new),
            _seconds(r.old),
            f"{r.ratio:.2f}x" if r.ratio is not None else "-",
            f"{r.new_runs}/{r.old_runs}",
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    right = {1, 2, 3, 4}

    def line(cols: tuple[str, ...]) -> str:
        parts = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cols)
        ]
        return "  ".join(parts).rstrip()

    out += [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells[1:]]
    slower = [r.scenario for r in rows if r.verdict == "SLOWER"]
    missing = [r.scenario for r in rows if r.verdict.startswith("n/a")]
    new = [r.scenario for r in rows if r.verdict.startswith("new:")]
    compared = len(rows) - len(missing) - len(new)
    detail = f"{compared} of {len(rows)} reconciler rows compared"
    if slower:
        detail += f"; slower: {', '.join(slower)}"
    if new:
        detail += f"; new since the old commit: {', '.join(new)}"
    if missing:
        detail += f"; NOT compared: {', '.join(missing)}"
    out.append(f"nothing else gets slower: {overall} ({detail})")
    return "\n".join(out)
