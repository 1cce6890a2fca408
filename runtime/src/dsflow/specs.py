"""``jobs/<job>/job_specs.yaml``: load it, validate it, and say where (file, key, line) it is wrong.

The format is documented in the project README ("Job specs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .checks import check_problem
from .errors import DsflowError
from .names import check_dataset_name, check_job_name, quoted
from .partitions import GRAINS
from .project import Project

SPEC_FILE = "job_specs.yaml"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
JOB_CLASSES = ("notebook", "command-line", "dashboard")
TABLE_KINDS = ("fact", "dimension")
INPUT_MAPPINGS = ("same", "previous", "all")  # plus last_<N>
LAST_N = re.compile(r"last_([0-9]{1,9})")
MAX_LAST = 1000  # hours to years: past it, `all` says what is meant without a huge plan
KNOWN_KEYS = {
    "job_name", "class", "script", "module", "grain", "inputs", "outputs",
    "job_parameters", "task_specs", "checks", "description",
}  # fmt: skip
# The keys whose values change what a run produces: with the code, they make the code hash.
OUTPUT_KEYS = (
    "class", "script", "module", "grain", "inputs", "outputs", "checks", "task_specs",
)  # fmt: skip


DATASET_KEYS = {"table", "tables", "raw", "kind"}  # every entry
ENTRY_KEYS = {
    "inputs": DATASET_KEYS | {
        "partitions", "external",
        "partial",  # a coarser job may run on an incomplete period
    },
    "outputs": DATASET_KEYS | {"schema", "schema_evolution", "allow_empty"},  # the contract
}  # fmt: skip


@dataclass(frozen=True)
class DatasetRef:
    """A dataset in the datastore: ``raw/<name>`` or ``tables/<name>``.

    Inputs may say ``partial`` (a coarser job runs on the finer partitions that exist rather
    than waiting for its whole period). Outputs may declare ``schema`` (the table's contract
    before its first publish), ``schema_evolution`` (new columns are accepted) and
    ``allow_empty`` (a partition with no rows may be published).
    """

    area: str
    name: str
    kind: str = "fact"
    partitions: str = "same"
    external: bool = False
    partial: bool = False
    schema: Any = field(default=None, compare=False, hash=False)
    evolve: bool = False
    allow_empty: bool = False

    @property
    def path(self) -> str:
        return f"{self.area}/{self.name}"


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec."""

    name: str
    folder: Path
    job_class: str
    script: Path | None  # the notebook or script in the job folder; None for a module job
    grain: str
    inputs: list[DatasetRef]
    outputs: list[DatasetRef]
    job_parameters: dict[str, Any]
    task_specs: dict[str, Any]
    checks: list[dict[str, Any]] = field(default_factory=list)
    module: str | None = None  # a command-line job may run `python -m <module>` instead
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def code_name(self) -> str:
        """What runs, as a user reads it: the script's file name or ``-m <module>``."""
        return self.script.name if self.script else f"-m {self.module}"


class _Where:
    """Line numbers of the keys in a YAML mapping (and of the entries of the lists under
    them), for error messages."""

    def __init__(self, path: Path, node: yaml.Node | None):
        self.path = path
        self.lines: dict[str, int] = {}
        self.items: dict[str, list[int]] = {}
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[str(key.value)] = key.start_mark.line + 1
                if isinstance(value, yaml.SequenceNode):
                    self.items[str(key.value)] = [v.start_mark.line + 1 for v in value.value]

    def error(self, key: str | None, message: str, index: int | None = None) -> DsflowError:
        """``path:line: key: message``; the line of entry ``index`` of the list under ``key``
        when given, else of ``key`` itself."""
        items = self.items.get(key or "", [])
        line = items[index] if index is not None and index < len(items) else None
        line = line or self.lines.get(key or "")
        where = f"{self.path}" + (f":{line}" if line else "") + (f": {key}" if key else "")
        return DsflowError(f"{where}: {message}")


MAX_SPEC_BYTES = 256 * 1024
MAX_ALIASES = 100  # a spec repeats itself a little; an "anchor bomb" expands without end


MAX_EXPANDED_VALUES = 20_000  # a real spec has a few hundred


def _check_expanded_size(path: Path, root: yaml.Node | None) -> None:
    """Refuse a document whose aliases expand it past :data:`MAX_EXPANDED_VALUES` values: 89
    aliases of aliases make a "billion laughs" that loading would never finish."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:  # an alias is the same node object: counted, not walked again
            return sizes[id(node)]
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_EXPANDED_VALUES:
            raise DsflowError(
                f"{path}:{node.start_mark.line + 1}: this value expands to more than "
                f"{MAX_EXPANDED_VALUES} values through YAML aliases (*name): write the values "
                "out instead"
            )
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root)


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise DsflowError(
            f"{path}: {path.stat().st_size} bytes, more than a job spec needs "
            f"(at most {MAX_SPEC_BYTES // 1024} KiB)"
        )
    text = path.read_text()
    try:
        aliases = 0
        for event in yaml.parse(text):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    line = event.start_mark.line + 1
                    raise DsflowError(
                        f"{path}:{line}: more than {MAX_ALIASES} YAML aliases (*name): write "
                        "the values out instead"
                    )
        node = yaml.compose(text)
        _check_expanded_size(path, node)
        return yaml.safe_load(text), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise DsflowError(f"{path}{line}: not valid YAML ({problem})") from None


def _dataset(item: Any, where: _Where, key: str, index: int) -> DatasetRef:
    def error(message: str) -> DsflowError:
        return where.error(key, message, index)

    if isinstance(item, str):
        area, _, name = item.strip("/").partition("/")
        item = {area: name} if area in ("raw", "tables") and name else {"?": item}
    if not isinstance(item, dict):
        raise error(f"each entry must be 'raw/<name>', 'tables/<name>' or a mapping, got {item!r}")
    if "table" in item or "tables" in item:
        area, name = "tables", item.get("table", item.get("tables"))
    elif "raw" in item:
        area, name = "raw", item["raw"]
    else:
        raise error(f"entry {item!r} names no table (table: <name>) or raw dataset (raw: <name>)")
    known = ENTRY_KEYS[key]
    unknown = sorted(set(item) - known)
    if unknown:
        raise error(f"unknown key {unknown[0]!r} in {item!r} (known: {', '.join(sorted(known))})")
    try:
        check_dataset_name("" if name is None else name)
    except DsflowError as exc:
        raise error(str(exc)) from None
    kind = str(item.get("kind", "dimension" if name.startswith("dim_") else "fact"))
    if kind not in TABLE_KINDS:
        raise error(f"kind must be fact or dimension, not {kind!r}")
    mapping = str(item.get("partitions", "same"))
    last = LAST_N.fullmatch(mapping)
    if mapping not in INPUT_MAPPINGS and not (last and 1 <= int(last.group(1)) <= MAX_LAST):
        raise error(
            f"partitions must be same, previous, all or last_<N> with N from 1 to {MAX_LAST}, "
            f"not {quoted(mapping)}"
        )
    flags = {}
    for flag in ("external", "partial", "schema_evolution", "allow_empty"):
        value = item.get(flag, False)
        if not isinstance(value, bool):
            raise error(f"{flag} must be true or false, not {value!r}")
        flags[flag] = value
    schema = item.get("schema")
    if schema is not None and not isinstance(schema, (str, dict)):
        raise error("schema must be a mapping of column: type, a DDL string or a YAML file path")
    return DatasetRef(
        area,
        name,
        kind,
        mapping,
        external=flags["external"],
        partial=flags["partial"],
        schema=schema,
        evolve=flags["schema_evolution"],
        allow_empty=flags["allow_empty"],
    )


def load_spec(folder: Path, default_grain: str = "daily") -> JobSpec:
    """Read and validate ``folder/job_specs.yaml``."""
    path = folder / SPEC_FILE
    if not path.is_file():
        raise DsflowError(f"{path}: missing; every job folder needs a job_specs.yaml")
    data, node = _load_yaml(path)
    where = _Where(path, node)
    if not isinstance(data, dict):
        raise where.error(None, "expected a mapping of keys (job_name, class, script, ...)")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise where.error(unknown[0], f"unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    name = data.get("job_name") or folder.name
    try:
        check_job_name(name)
    except DsflowError as exc:
        raise where.error("job_name", str(exc)) from None
    if name != folder.name:
        raise where.error("job_name", f"{name!r} differs from the folder name {folder.name!r}")
    job_class = data.get("class")
    if job_class not in JOB_CLASSES:
        raise where.error("class", f"must be one of {', '.join(JOB_CLASSES)}, not {job_class!r}")
    script, module = data.get("script"), data.get("module")
    script_path: Path | None = None
    if module is not None:
        if script is not None:
            raise where.error("module", "give either script or module, not both")
        if job_class != "command-line" or not isinstance(module, str):
            raise where.error("module", "only a command-line job runs a module (a dotted name)")
        if not MODULE_NAME.fullmatch(module):
            raise where.error("module", f"{module!r} is not a dotted Python module name")
    else:
        if not script or not isinstance(script, str):
            raise where.error("script", "missing: name the notebook or script file of the job")
        script_path = (folder / script).resolve()
        if folder.resolve() not in script_path.parents:
            raise where.error("script", f"{script!r} must be a file inside the job folder")
        if not script_path.is_file():
            raise where.error("script", f"{script!r} does not exist in {folder}")
        if job_class == "notebook" and script_path.suffix not in (".ipynb", ".py"):
            raise where.error("script", "a notebook job needs a .ipynb or a jupytext .py file")
    grain = str(data.get("grain") or default_grain)
    if grain not in GRAINS:
        raise where.error("grain", f"must be one of {', '.join(GRAINS)}, not {grain!r}")
    lists = {}
    for key in ("inputs", "outputs", "checks"):
        value = data.get(key) or []
        if not isinstance(value, list):
            raise where.error(key, "must be a list")
        lists[key] = value
    mappings = {}
    for key in ("job_parameters", "task_specs"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise where.error(key, "must be a mapping")
        mappings[key] = value
    for index, check in enumerate(lists["checks"]):
        problem = check_problem(check)
        if problem:
            raise where.error("checks", problem, index)
    return JobSpec(
        name=name,
        folder=folder,
        job_class=job_class,
        script=script_path,
        grain=grain,
        inputs=[_dataset(x, where, "inputs", n) for n, x in enumerate(lists["inputs"])],
        outputs=[_dataset(x, where, "outputs", n) for n, x in enumerate(lists["outputs"])],
        job_parameters=mappings["job_parameters"],
        task_specs=mappings["task_specs"],
        checks=lists["checks"],
        module=module,
        raw=data,
    )


def find_job(project: Project, name: str, default_grain: str = "daily") -> JobSpec:
    """The spec of job ``name`` in ``project``; unknown names list the existing jobs."""
    check_job_name(name)
    folder = project.jobs_dir / name
    if not folder.is_dir():
        jobs = ", ".join(project.job_names()) or "none yet (create one with `just new-job`)"
        raise DsflowError(f"unknown job {name!r}; jobs: {jobs}")
    return load_spec(folder, default_grain)
