"""The project's own checks: run them with `just test`. Add pipeline tests beside this file."""

from pathlib import Path

import yaml
from dsflow.project import find_project
from dsflow.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_settings_load():
    """dsflow.yml parses and names an existing datastore."""
    settings = load_settings(find_project(ROOT))
    assert settings.datastore.is_dir()


def test_every_job_has_spec_and_readme():
    """Each job folder carries a readable job_specs.yaml and a README."""
    project = find_project(ROOT)
    for job in project.job_names():
        folder = project.jobs_dir / job
        spec = yaml.safe_load((folder / "job_specs.yaml").read_text())
        assert isinstance(spec, dict), f"{job}: job_specs.yaml is not a mapping"
        assert (folder / "README.md").is_file(), f"{job}: README.md missing"
