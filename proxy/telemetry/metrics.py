"""In-process counters, histograms and gauges, read two ways.

A request adds to plain dicts keyed by label tuples: no locks, no
OpenTelemetry instrument calls on the hot path (an SDK synchronous
instrument costs several microseconds per `add`). Values are mutable cells
(a counter's `[total]`, a histogram's `[sum, buckets...]`), so a finished
request reaches its series through references cached per combination of
labels (`Instruments.record`) and only adds to list items. The figures are
read only when someone looks: the admin `/metrics` page renders Prometheus
text, and the OTLP exporter thread turns the same dicts into cumulative OTLP
metric points once per export interval. Reads from the exporter thread copy a
dict first (`dict.copy()` is atomic under the GIL), so a request adding a new
label set meanwhile cannot break the iteration.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

# A client controls model names and a config controls routes: cap the label
# sets per family so neither can grow memory or scrape size without bound.
MAX_SERIES = 2000
OVERFLOW = "other"
CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


class Family:
    kind = ""
    __slots__ = ("_overflow", "help", "labels", "otel_name", "prom_labels", "prom_name", "unit", "values")

    def __init__(self, prom_name: str, otel_name: str, help: str, labels: Sequence[str], unit: str = "1"):
        self.prom_name = prom_name
        self.otel_name = otel_name
        self.help = help
        self.unit = unit
        self.labels = tuple(labels)
        # OTel attribute names use dots; Prometheus label names cannot.
        self.prom_labels = tuple(label.replace(".", "_") for label in labels)
        self.values: dict[tuple[str, ...], object] = {}
        self._overflow = (OVERFLOW,) * len(self.labels)

    def _slot(self, key: tuple[str, ...]) -> tuple[str, ...]:
        return self._overflow if len(self.values) >= MAX_SERIES else key


class Counter(Family):
    """Each value is a one-item list `[total]`, so a request can keep a reference to its series (`cell`)."""

    kind = "counter"
    __slots__ = ()

    def inc(self, key: tuple[str, ...], amount: float = 1) -> None:
        values = self.values
        try:
            values[key][0] += amount  # type: ignore[index]
        except KeyError:
            key = self._slot(key)
            cell = values.get(key)
            if cell is None:
                values[key] = [0 + amount]
            else:
                cell[0] += amount  # type: ignore[index]

    def cell(self, key: tuple[str, ...]) -> list:
        """The series of `key` (or the overflow series), created at 0: add to `cell[0]`."""
        cell = self.values.get(key)
        if cell is None:
            key = self._slot(key)
            cell = self.values.get(key)
            if cell is None:
                cell = self.values[key] = [0]
        return cell  # type: ignore[return-value]


class Gauge(Family):
    kind = "gauge"
    __slots__ = ()

    def set(self, key: tuple[str, ...], value: float) -> None:
        if key not in self.values:
            key = self._slot(key)
        self.values[key] = value


class Histogram(Family):
    """Explicit buckets; each value is `[sum, n_0, ..., n_len(bounds)]`, counts not cumulative.

    The count is the sum of the bucket counts (every observation lands in
    exactly one bucket), worked out when read rather than kept per observation.
    """

    kind = "histogram"
    __slots__ = ("bounds",)

    def __init__(self, *args: object, bounds: Sequence[float], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.bounds = tuple(bounds)

    def observe(self, key: tuple[str, ...], value: float) -> None:
        cell = self.values.get(key)
        if cell is None:
            cell = self.cell(key)
        cell[0] += value  # type: ignore[index]
        cell[1 + bisect_left(self.bounds, value)] += 1  # type: ignore[index]

    def cell(self, key: tuple[str, ...]) -> list:
        """The series of `key` (or the overflow series), created empty: see `observe` for how to add to it."""
        cell = self.values.get(key)
        if cell is None:
            key = self._slot(key)
            cell = self.values.setdefault(key, [0.0] + [0] * (len(self.bounds) + 1))
        return cell  # type: ignore[return-value]


# --- Prometheus text --------------------------------------------------------


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label(str(v))}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def prometheus_lines(families: Iterable[Family]) -> list[str]:
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.prom_name} {fam.help}")
        lines.append(f"# TYPE {fam.prom_name} {fam.kind}")
        values = fam.values.copy()
        if isinstance(fam, Histogram):
            base = fam.prom_name
            for key, cell in sorted(values.items()):
                cell = list(cell)  # type: ignore[call-overload]  # one consistent copy
                running = 0
                for bound, n in zip((*fam.bounds, math.inf), cell[1:]):
                    running += n
                    le = 'le="' + _number(bound) + '"'
                    lines.append(f"{base}_bucket{_labels(fam.prom_labels, key, le)} {running}")
                lines.append(f"{base}_sum{_labels(fam.prom_labels, key)} {_number(cell[0])}")
                lines.append(f"{base}_count{_labels(fam.prom_labels, key)} {running}")
        else:
            counter = isinstance(fam, Counter)
            for key, value in sorted(values.items()):
                number = value[0] if counter else value  # type: ignore[index]
                lines.append(f"{fam.prom_name}{_labels(fam.prom_labels, key)} {_number(number)}")  # type: ignore[arg-type]
    return lines


# --- OTLP ---------------------------------------------------------------------


def _attrs(names: Sequence[str], values: Sequence[str]) -> list[KeyValue]:
    return [KeyValue(key=n, value=AnyValue(string_value=str(v))) for n, v in zip(names, values, strict=True)]


def otlp_metrics(families: Iterable[Family], start_ns: int, now_ns: int | None = None) -> list[pb.Metric]:
    """Cumulative OTLP points for every family with data."""
    now = now_ns or time.time_ns()
    out: list[pb.Metric] = []
    for fam in families:
        values = fam.values.copy()
        if not values:
            continue
        metric = pb.Metric(name=fam.otel_name, description=fam.help, unit=fam.unit)
        if isinstance(fam, Histogram):
            points = []
            for key, cell in values.items():
                cell = list(cell)  # type: ignore[call-overload]  # one consistent copy
                buckets = cell[1:]
                points.append(
                    pb.HistogramDataPoint(
                        attributes=_attrs(fam.labels, key),
                        start_time_unix_nano=start_ns,
                        time_unix_nano=now,
                        count=sum(buckets),
                        sum=cell[0],
                        bucket_counts=buckets,
                        explicit_bounds=list(fam.bounds),
                    )
                )
            metric.histogram.CopyFrom(pb.Histogram(data_points=points, aggregation_temporality=CUMULATIVE))
        else:
            points = [
                pb.NumberDataPoint(
                    attributes=_attrs(fam.labels, key),
                    start_time_unix_nano=start_ns,
                    time_unix_nano=now,
                    as_double=float(value[0] if isinstance(fam, Counter) else value),  # type: ignore[arg-type,index]
                )
                for key, value in values.items()
            ]
            if isinstance(fam, Counter):
                metric.sum.CopyFrom(pb.Sum(data_points=points, aggregation_temporality=CUMULATIVE, is_monotonic=True))
            else:
                metric.gauge.CopyFrom(pb.Gauge(data_points=points))
        out.append(metric)
    return out
