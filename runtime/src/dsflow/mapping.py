"""The one partition-mapping model: which partitions of an input a run of one job partition reads.

``just run`` (:mod:`dsflow.resolve`), the backfill plan (:mod:`dsflow.backfill`), staleness
(:mod:`dsflow.staleness`) and the generated DAGs all ask this module, so they cannot disagree.

An input's ``partitions:`` names periods of the *job's* grain, relative to the run's partition:

* ``same`` (default): this period; ``previous``: the one before; ``last_<N>``: this one and
  the N-1 before (a job reading its own output: the N before, never itself);
* ``all``: every complete partition up to the end of this period;
* a dimension (``kind: dimension``): its latest complete snapshot whose period has ended by
  the end of this one (with ``all``: every snapshot up to then).

Those periods are then read at the *input's* grain:

* the same grain: the partitions themselves;
* a finer input (a monthly job reading a daily table): every partition inside the periods; the
  run waits until all of them are complete, unless the input says ``partial: true``;
* a coarser input (a daily job reading a monthly table): the partition enclosing each period;
* an unpartitioned input, or an unpartitioned job: the whole dataset.

Grains nest as hourly < daily < weekly and daily < monthly < yearly; weeks straddle months and
years, so a weekly table and a monthly or yearly one cannot read each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DsflowError
from .partitions import Partition, partition_for, partition_range, period, shift
from .specs import DatasetRef

# coarser grains each grain nests in
_NESTS_IN = {
    "hourly": {"daily", "weekly", "monthly", "yearly"},
    "daily": {"weekly", "monthly", "yearly"},
    "weekly": set(),
    "monthly": {"yearly"},
    "yearly": set(),
}


def nests(finer: str, coarser: str) -> bool:
    """True when every ``finer`` period lies inside one ``coarser`` period."""
    return coarser in _NESTS_IN.get(finer, set())


def compatible(job_grain: str, input_grain: str) -> bool:
    """Whether a job of ``job_grain`` can read an input of ``input_grain``."""
    if input_grain == "none" or job_grain == input_grain:
        return True
    if job_grain == "none":  # an unpartitioned job has no period to map a partition to
        return False
    return nests(job_grain, input_grain) or nests(input_grain, job_grain)


def incompatible_reason(job_grain: str, input_grain: str) -> str:
    """Why the two grains cannot be mapped (for error messages)."""
    if job_grain == "none":
        return (
            "an unpartitioned job reads unpartitioned inputs only: give the job a grain, "
            "or read the table in a job of its grain"
        )
    return (
        f"{input_grain} and {job_grain} periods do not nest (weeks straddle months and "
        "years): read a daily table, or write this job at a grain that nests"
    )


def within(outer: Partition, grain: str) -> list[Partition]:
    """The partitions of (finer) ``grain`` inside ``outer``'s period, in order."""
    start, end = period(outer)
    first = partition_for(start, grain)
    last = shift(partition_for(end, grain), -1)
    return partition_range(first, last)


def enclosing(inner: Partition, grain: str) -> Partition:
    """The partition of (coarser) ``grain`` whose period holds ``inner``'s."""
    return partition_for(period(inner)[0], grain)


@dataclass(frozen=True)
class InputSpan:
    """What a run reads of one input.

    ``parts``: exactly these partitions (in order), when ``upto`` is None. ``upto``: an open
    span (``all``, dimensions): the complete partitions whose period has ended when ``upto``'s
    does (no look-ahead: a daily run never reads the monthly snapshot of its own, unfinished
    month), all of them or (``latest``) the last one. ``whole``: the unpartitioned dataset.
    ``complete_period``: the parts cover finer partitions of the job's period(s); every one
    must be complete before the run (unless the input is ``partial``).
    """

    parts: tuple[Partition, ...] = ()
    upto: Partition | None = None
    latest: bool = False
    whole: bool = False
    complete_period: bool = False

    def select(self, complete: list[Partition]) -> list[Partition]:
        """The partitions read, given the input's ``complete`` partitions (sorted)."""
        if self.whole:
            return [Partition("none", "")]
        if self.upto is None:
            return list(self.parts)
        end = period(self.upto)[1]
        chosen = [p for p in complete if period(p)[1] <= end]
        return chosen[-1:] if self.latest else chosen


def input_span(part: Partition, ref: DatasetRef, input_grain: str, own: bool) -> InputSpan:
    """The partitions of input ``ref`` (published at ``input_grain``) that a run of ``part``
    reads; ``own`` when the input is the job's own output (its earlier partitions only)."""
    if part.grain == "none" or input_grain == "none":
        return InputSpan(whole=True)
    if not compatible(part.grain, input_grain):
        raise DsflowError(
            f"{ref.path} is {input_grain}, the job {part.grain}: "
            + incompatible_reason(part.grain, input_grain)
        )
    mapping = ref.partitions
    if mapping == "all" or ref.kind == "dimension":
        return InputSpan(upto=part, latest=mapping != "all")
    if mapping == "previous":
        periods = [shift(part, -1)]
    elif mapping.startswith("last_"):
        n = int(mapping[5:])
        periods = (
            partition_range(shift(part, -n), shift(part, -1))
            if own
            else partition_range(shift(part, 1 - n), part)
        )
    else:
        periods = [part]
    if input_grain == part.grain:
        return InputSpan(parts=tuple(periods))
    if nests(input_grain, part.grain):  # finer input: every partition inside the periods
        parts = [p for outer in periods for p in within(outer, input_grain)]
        return InputSpan(parts=tuple(parts), complete_period=True)
    parts = []
    for inner in periods:  # coarser input: the enclosing partitions, once each
        outer = enclosing(inner, input_grain)
        if outer not in parts:
            parts.append(outer)
    return InputSpan(parts=tuple(parts))
