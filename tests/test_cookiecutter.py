"""Cookiecutter builds the same project as copier, from the same files."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import yaml
from conftest import REPO, bake
from test_render import files_of


def project_questions() -> dict[str, dict]:
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    return {
        name: q
        for name, q in config.items()
        if not name.startswith("_") and "template == 'project'" in str(q.get("when", ""))
    }


def test_cookiecutter_json_does_not_drift_from_copier_yml():
    """Same questions, same defaults (or choices, default first) in both files."""
    cc = json.loads((REPO / "cookiecutter.json").read_text())
    questions = project_questions()
    assert set(cc) == set(questions)
    for name, question in questions.items():
        if "choices" in question:
            assert cc[name][0] == question["default"], name
            assert cc[name] == list(question["choices"]), name
        else:
            assert str(cc[name]).replace("cookiecutter.", "") == str(question["default"]), name


def test_cookiecutter_output_equals_copier_output(cookies, template_repo, tmp_path):
    """`cookiecutter <repo> --no-input` and `copier copy` give identical trees and answers."""
    context = {"project_name": "Weather Lab", "default_grain": "weekly"}
    result = cookies.bake(template=str(template_repo), extra_context=context)
    assert result.exit_code == 0, result.exception
    cc_project = Path(result.project_path)
    assert cc_project.name == "weather-lab"

    cp_project = bake(
        template_repo, tmp_path / "copier" / "weather-lab", own_ports=False, **context
    )
    assert files_of(cc_project) == files_of(cp_project)
    different = [
        rel
        for rel in sorted(files_of(cp_project))
        if not filecmp.cmp(cc_project / rel, cp_project / rel, shallow=False)
    ]
    assert different == []
    answers = yaml.safe_load((cc_project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_repo)
    assert answers["_commit"] == "v1.0.0"


def test_cookiecutter_cli_with_a_relative_template_path(template_repo, tmp_path):
    """`cookiecutter ../dsflow --no-input` records the template's absolute path for updates."""
    import os
    import subprocess

    work = tmp_path / "work"
    work.mkdir()
    relative = os.path.relpath(template_repo, work)
    subprocess.run(["cookiecutter", "--no-input", relative], cwd=work, check=True)
    answers = yaml.safe_load((work / "my-dsflow-project/.copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_repo)
    assert (work / "my-dsflow-project/dsflow.yml").is_file()
