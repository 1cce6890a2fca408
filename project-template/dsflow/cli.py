"""The ``dsflow`` command the project's justfile recipes call; ``dsflow --help`` lists it all."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .errors import DsflowError
from .kvargs import parse_kv
from .project import find_project


def _cmd_setup(args: argparse.Namespace) -> None:
    from .bootstrap import check_java, install_kernel
    from .envfile import ensure_secrets

    project = find_project()
    print(f"java:    {check_java()}")
    kernel = install_kernel(str(project.answers.get("project_slug", project.root.name)))
    print(f"kernel:  {kernel} (Jupyter and papermill use it)")
    created = ensure_secrets(project.root / ".env")
    print(
        f"secrets: {'generated ' + ', '.join(created) if created else 'kept'} in .env (gitignored)"
    )
    print("ready: `just` lists the recipes; `just templates` the job templates")


def _cmd_templates(args: argparse.Namespace) -> None:
    from .templates import list_job_templates

    project = find_project()
    templates = list_job_templates(project)
    width = max(len(t.name) for t in templates)
    print(f"Job templates ({project.template_src} @ {project.template_commit}):")
    for tpl in templates:
        print(f"  {tpl.name:<{width}}  {tpl.description}")
    print("\nCreate a job: just new-job TEMPLATE NAME [key=value ...]")


def _cmd_new_job(args: argparse.Namespace) -> None:
    from .new_job import new_job

    project = find_project()
    params = parse_kv(args.params)
    interactive = False if args.no_input else None
    folder = new_job(project, args.template, args.name, params, interactive=interactive)
    rel = folder.relative_to(project.root)
    print(f"created {rel}/ from template {args.template} ({project.template_commit})")
    print(f"next: read {rel}/README.md, then `just run job={folder.name} ds=YYYY-MM-DD`")


def _cmd_update(args: argparse.Namespace) -> None:
    from .update import update_project

    options = parse_kv(args.options, allowed=["to"])
    project = find_project()
    report = update_project(project, vcs_ref=options.get("to"))
    for name, (before, after) in report.versions.items():
        change = f"{before} -> {after}" if before != after else f"{after} (unchanged)"
        print(f"{name}: {change}")
    if not report.changed:
        print("nothing changed: the project and its jobs are up to date")
        return
    print("changed files (review with `git diff`, then commit):")
    for line in report.changed:
        print(f"  {line}")
    if report.conflicts:
        print(
            f"CONFLICTS in {len(report.conflicts)} file(s): {', '.join(report.conflicts)}\n"
            "  resolve the <<<<<<< / >>>>>>> blocks (or .rej files), then commit",
            file=sys.stderr,
        )
        raise SystemExit(1)


def _cmd_tree(args: argparse.Namespace) -> None:
    from .settings import load_settings
    from .tree import datastore_tree

    settings = load_settings(find_project())
    print("\n".join(datastore_tree(settings.datastore)))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dsflow`` command."""
    parser = argparse.ArgumentParser(
        prog="dsflow",
        description="dsflow project runtime (usually called through the project's justfile)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="check Java, install the Jupyter kernel, generate .env")
    p.set_defaults(func=_cmd_setup)

    p = sub.add_parser("templates", help="list job templates with one-line descriptions")
    p.set_defaults(func=_cmd_templates)

    p = sub.add_parser(
        "new-job",
        help="render a job from a template into jobs/<job>/",
        description="Render a job from the template source and version this project records.",
    )
    p.add_argument("template", help="job template (see `dsflow templates`)")
    p.add_argument("name", help="dataset or table name, e.g. meteoparis")
    p.add_argument("params", nargs="*", metavar="key=value", help="template parameters")
    p.add_argument("--no-input", action="store_true", help="never prompt; use defaults")
    p.set_defaults(func=_cmd_new_job)

    p = sub.add_parser("update", help="copier update the project, then every job")
    p.add_argument("options", nargs="*", metavar="to=VERSION", help="target tag (default: latest)")
    p.set_defaults(func=_cmd_update)

    p = sub.add_parser("tree", help="show the datastore: datasets, tables, partitions")
    p.set_defaults(func=_cmd_tree)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command; user errors become one line on stderr and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except DsflowError as exc:
        print(f"dsflow: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dsflow: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        if os.environ.get("DSFLOW_DEBUG"):
            raise
        print(
            f"dsflow: internal error: {exc.__class__.__name__}: {exc} "
            "(rerun with DSFLOW_DEBUG=1 for the traceback, and report it)",
            file=sys.stderr,
        )
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
