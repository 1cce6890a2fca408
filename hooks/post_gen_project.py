"""Cookiecutter post-generation hook: render the project with copier from the same template.

Cookiecutter only collects the answers. Copier renders the files (from the same repository
and its latest release), so both tools produce the same tree, `.copier-answers.yml` included,
and a cookiecutter-made project stays upgradable with `copier update`.
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | jsonify }}""")
URL_LIKE = re.compile(r"^(\w+://|git@|gh:|gl:)")


def template_source(context: dict) -> str:
    """The template as the user named it (URL or absolute path), else its absolute location.

    For a relative path, cookiecutter only knows it relative to where it was started: it runs
    this hook from the template folder (Linux shows that as the parent's cwd), and without
    ``-o`` the output folder is where it was started.
    """
    given = str(context.get("_template", ""))
    if URL_LIKE.match(given) or os.path.isabs(given):
        return given
    repo_dir = str(context["_repo_dir"])
    candidates = [Path(f"/proc/{os.getppid()}/cwd"), Path(context["_output_dir"]) / repo_dir]
    for candidate in candidates:
        if (candidate / "copier.yml").is_file():
            return str(candidate.resolve())
    sys.exit(f"dsflow: error: cannot locate the template {given!r}: pass an absolute path or URL")


def main() -> None:
    try:
        import copier
    except ImportError:
        sys.exit("dsflow: error: cookiecutter needs copier beside it: pip install copier")
    data = {k: v for k, v in CONTEXT.items() if not k.startswith("_")}
    data["template"] = "project"
    here = Path.cwd()
    for child in here.iterdir():  # the placeholder cookiecutter rendered
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    copier.run_copy(
        src_path=template_source(CONTEXT),
        dst_path=here,
        data=data,
        vcs_ref=CONTEXT.get("_checkout") or None,
        defaults=True,
        unsafe=True,
        quiet=True,
        overwrite=True,
    )


if __name__ == "__main__":
    main()
