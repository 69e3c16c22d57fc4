"""The figures table the soak prints at the end."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from tests.support.chain_conditions import Stats
from tests.support.soak.chaos import Chaos
from tests.support.soak.checks import Check
from tests.support.soak.load import Tally

MiB = 1024 * 1024
WARM_UP = 20.0  # seconds after a process started before its RSS counts towards growth


@dataclass
class RssFigures:
    name: str
    incarnation: int
    first: float  # MiB
    last: float
    peak: float
    slope: float | None  # MiB per minute over the last half of the run (this incarnation's samples)
    base: float  # MiB at the start of that stretch
    samples: int
    by_minute: tuple[float, ...] = ()  # MiB at each whole minute of the run this incarnation lived through

    @property
    def percent_per_minute(self) -> float | None:
        return None if self.slope is None else 100 * self.slope / self.base


def rss_figures(samples: list[tuple[float, str, int, int]], seconds: float) -> list[RssFigures]:
    """Per child, its last incarnation: first, last and peak RSS, and its growth over the last half."""
    out = []
    for name in sorted({s[1] for s in samples}):
        mine = [s for s in samples if s[1] == name]
        last = max(s[2] for s in mine)
        series = [(t, rss / MiB) for t, _, inc, rss in mine if inc == last]
        # Past the start-up (imports, first requests), in the last half of the run.
        late = [(t, r) for t, r in series if t >= max(seconds / 2, series[0][0] + WARM_UP)]
        slope = None
        if len(late) >= 3 and len({t for t, _ in late}) > 1:
            slope = 60 * statistics.linear_regression([t for t, _ in late], [r for _, r in late]).slope
        values = [r for _, r in series]
        base = late[0][1] if late else values[0]
        # Whether growth levels off shows in the shape, not in one slope: the RSS at each whole minute.
        minutes = sorted({int(t // 60) for t, _ in series})
        by_minute = tuple(next(r for t, r in series if int(t // 60) == m) for m in minutes)
        out.append(RssFigures(name, last, values[0], values[-1], max(values), slope, base, len(series), by_minute))
    return out


def rss_kinds_row(kinds: list[tuple[float, int, dict[str, int]]], seconds: float) -> str:
    """The API's last incarnation: its RSS by kind at the start of the measured stretch and at the end."""
    if not kinds:
        return ""
    last = max(inc for _, inc, _ in kinds)
    mine = [(t, k) for t, inc, k in kinds if inc == last]
    late = [(t, k) for t, k in mine if t >= max(seconds / 2, mine[0][0] + WARM_UP)] or mine
    (t1, a), (t2, b) = late[0], late[-1]
    parts = [f"{name} {a[name] / MiB:.1f} -> {b[name] / MiB:.1f}" for name in a if name != "threads"]
    parts.append(f"threads {a.get('threads')} -> {b.get('threads')} (most {max(k.get('threads', 0) for _, k in mine)})")
    return f"  api by kind (MiB, {t1:.0f} s -> {t2:.0f} s): " + ", ".join(parts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def latency_rows(tally: Tally, chaos: Chaos) -> list[str]:
    groups: dict[str, list[float]] = defaultdict(list)
    for start, end, cold in tally.verifications:
        where = "inside" if chaos.in_fault(start, end) else "outside"
        groups[f"{where} fault windows, {'cold' if cold else 'warm'}"].append(1000 * (end - start))
        groups[f"{where} fault windows, all"].append(1000 * (end - start))
    return [
        f"  {name:<34} {len(v):>6} {percentile(v, 0.5):>9.1f} {percentile(v, 0.99):>9.1f}"
        for name, v in sorted(groups.items())
    ]


def table(
    *,
    minutes: float,
    seed: int,
    tally: Tally,
    chaos: Chaos,
    proxy: Stats,
    restarts: Counter[tuple[str, str]],
    exits: dict[str, list[str]],
    checks: list[Check],
    rss: list[RssFigures],
    rss_kinds: str,
    notes: list[str],
) -> str:
    lines = [f"== Chaos soak: {minutes:g} min of load, seed {seed} ==", "", "Requests (kind: answers by status)"]
    kinds = sorted({k for k, _ in tally.statuses})
    for kind in kinds:
        counts = sorted((s, n) for (k, s), n in tally.statuses.items() if k == kind)
        total = sum(n for _, n in counts)
        lines.append(f"  {kind:<20} {total:>6}  " + "  ".join(f"{s}: {n}" for s, n in counts))
    lines += ["", "Faults injected (kind: count, total seconds)"]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for w in chaos.windows:
        by_kind[w.kind].append(w.end - w.start)
    for kind, spans in sorted(by_kind.items()):
        lines.append(f"  {kind:<20} {len(spans):>3}  {sum(spans):6.1f} s")
    lines.append(
        f"  proxy: {proxy.requests} requests, injected {dict(proxy.injected)}, log spans refused {proxy.refused_span}"
    )
    lines += [f"  fault errors: {e}" for e in chaos.errors]
    lines += ["", "Restarts (scheduled kills / exits nobody asked for)"]
    for name in ("api", "worker", "indexer"):
        lines.append(f"  {name:<8} {restarts[(name, 'scheduled')]:>3} / {restarts[(name, 'exited')]:>3}")
        lines += [f"      exit: {e[:400]}" for e in exits.get(name, [])[:3]]
    lines += ["", "Invariants"]
    lines += [f"  {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.numbers}" for c in checks]
    lines += ["", f"  {'Verification latency (ms)':<34} {'n':>6} {'p50':>9} {'p99':>9}", *latency_rows(tally, chaos)]
    lines += ["", "RSS (MiB) of each process's last incarnation; growth over the last half of the run"]
    for f in rss:
        growth = "n/a" if f.slope is None else f"{f.slope:+.2f} MiB/min ({f.percent_per_minute:+.2f} %/min)"
        lines.append(
            f"  {f.name:<8} #{f.incarnation}: first {f.first:.1f}, last {f.last:.1f}, max {f.peak:.1f}, "
            f"{f.samples} samples; {growth}"
        )
        if len(f.by_minute) > 2:
            lines.append(f"           by minute: {', '.join(f'{r:.0f}' for r in f.by_minute)}")
    lines += [rss_kinds] if rss_kinds else []
    lines += ["", *notes] if notes else []
    return "\n".join(lines)
