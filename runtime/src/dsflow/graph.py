"""The job graph: which job feeds which, inferred from the specs' declared inputs and outputs.

``just pipeline``, ``just backfill``, ``just status`` and ``just dag`` all use this one graph.
A job depends on the job that writes a dataset it reads. Errors: two job names differing only by
``-`` and ``_``, two jobs writing one dataset, an input nobody writes (unless the input says
``external: true``), a cycle (a job reading its own *previous* partitions is not one: its
partitions simply run in order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import DsflowError
from .mapping import compatible, incompatible_reason
from .names import check_distinct_names
from .project import Project
from .settings import Settings
from .specs import JobSpec, find_job


@dataclass
class Graph:
    """Jobs (dashboards excluded: they serve, they do not run) and their dependencies."""

    jobs: dict[str, JobSpec]
    upstream: dict[str, set[str]] = field(default_factory=dict)
    writers: dict[str, str] = field(default_factory=dict)

    @property
    def downstream(self) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {name: set() for name in self.jobs}
        for name, ups in self.upstream.items():
            for up in ups:
                result[up].add(name)
        return result

    def order(self, names: set[str] | None = None) -> list[str]:
        """Jobs in dependency order (ties by name), restricted to ``names`` when given."""
        wanted = set(self.jobs) if names is None else names
        done: list[str] = []
        remaining = set(wanted)
        while remaining:
            ready = sorted(n for n in remaining if not (self.upstream[n] & remaining))
            if not ready:  # cannot happen after build_graph's cycle check
                raise DsflowError(f"cycle among jobs {', '.join(sorted(remaining))}")
            done += ready
            remaining -= set(ready)
        return done

    def input_grains(self, settings: Settings, spec: JobSpec) -> dict[str, str]:
        """The grain of each input of ``spec`` (:func:`dsflow.resolve.grain_of_input`), its
        writer taken from this graph."""
        from .resolve import grain_of_input

        grains = {}
        for ref in spec.inputs:
            writer = self.writers.get(ref.path)
            theirs = self.jobs[writer].grain if writer in self.jobs else None
            grains[ref.path] = grain_of_input(settings, spec, ref, theirs)
        return grains

    def closure(self, name: str, direction: str) -> set[str]:
        """``name`` and every job upstream (or downstream) of it."""
        edges = self.upstream if direction == "upstream" else self.downstream
        seen, todo = {name}, [name]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def select(self, selector: str | None) -> list[str]:
        """Jobs for a selector, dbt style: ``X`` alone, ``+X`` with its upstream, ``X+`` with
        its downstream, ``+X+`` both; none selects every job. In dependency order."""
        if not selector:
            return self.order()
        name = selector.strip("+")
        if name not in self.jobs:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise DsflowError(f"unknown job {name!r} in job={selector} (pipeline jobs: {known})")
        chosen = {name}
        if selector.startswith("+"):
            chosen |= self.closure(name, "upstream")
        if selector.endswith("+"):
            chosen |= self.closure(name, "downstream")
        return self.order(chosen)


def build_graph(project: Project, settings: Settings) -> Graph:
    """Load every job spec and check the graph; raise a one-line error on the first problem."""
    names = project.job_names()
    check_distinct_names(names)  # every job folder, dashboards too, as `just new-job` does
    jobs = {}
    for name in names:
        spec = find_job(project, name, settings.default_grain)
        if spec.job_class != "dashboard":
            jobs[name] = spec
    graph = Graph(jobs=jobs, upstream={n: set() for n in jobs})
    for name, spec in jobs.items():
        for out in spec.outputs:
            other = graph.writers.get(out.path)
            if other:
                raise DsflowError(f"{out.path} has two writers: jobs {other} and {name}")
            graph.writers[out.path] = name
    for name, spec in jobs.items():
        for ref in spec.inputs:
            if ref.external:
                continue
            writer = graph.writers.get(ref.path)
            if writer is None:
                raise DsflowError(
                    f"job {name} reads {ref.path}, which no job writes: add the job that "
                    "writes it, or mark the input `external: true` if it arrives another way"
                )
            theirs = jobs[writer].grain
            if not compatible(spec.grain, theirs):
                raise DsflowError(
                    f"job {name} ({spec.grain}) reads {ref.path}, which {writer} writes "
                    f"{theirs}: {incompatible_reason(spec.grain, theirs)}"
                )
            if writer == name:
                if ref.partitions in ("same", "all"):
                    raise DsflowError(
                        f"job {name} reads its own output {ref.path} with partitions: "
                        f"{ref.partitions}; a job may read only its earlier partitions "
                        "(previous or last_<N>)"
                    )
                continue  # its own earlier partitions: ordered runs, not a cycle
            graph.upstream[name].add(writer)
    cycle = _find_cycle(graph)
    if cycle:
        raise DsflowError(f"the jobs form a cycle: {' -> '.join(cycle)}")
    return graph


def _find_cycle(graph: Graph) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for up in sorted(graph.upstream[node]):
            if state.get(up) == 1:
                loop = stack[stack.index(up) :] + [up]
                return list(reversed(loop))
            if up not in state:
                found = visit(up)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph.jobs):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def render_text(graph: Graph) -> list[str]:
    """The graph as text: jobs in dependency order with what they read and write."""
    lines = []
    for name in graph.order():
        spec = graph.jobs[name]
        reads = ", ".join(
            ref.path + (f" ({ref.partitions})" if ref.partitions != "same" else "")
            for ref in spec.inputs
        )
        writes = ", ".join(ref.path for ref in spec.outputs)
        ups = ", ".join(sorted(graph.upstream[name])) or "-"
        lines.append(f"{name}  [{spec.grain}]")
        lines.append(f"    after:  {ups}")
        lines.append(f"    reads:  {reads or '-'}")
        lines.append(f"    writes: {writes or '-'}")
    return lines


def render_mermaid(graph: Graph) -> list[str]:
    """The graph as a Mermaid flowchart (paste into Markdown)."""
    lines = ["flowchart LR"]
    for name in graph.order():
        lines.append(f'    {_id(name)}["{name}"]')
    for name in graph.order():
        for up in sorted(graph.upstream[name]):
            lines.append(f"    {_id(up)} --> {_id(name)}")
    return lines


def _id(name: str) -> str:
    return name.replace("-", "_")
