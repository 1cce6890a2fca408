"""Airflow's database settings, without starting PostgreSQL: which URL Airflow gets, where
the stamps about its contents live, and the refusal to start PostgreSQL for a SQLite project.
(tests/test_pipelines.py runs Airflow's scheduler on a real PostgreSQL.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from dsflow import airflow_db
from dsflow.envfile import read_env
from dsflow.errors import DsflowError
from dsflow.project import find_project

from .conftest import SETTINGS, write_project


def _project(tmp_path: Path, **settings: object) -> Path:
    return write_project(tmp_path / "project", {**SETTINGS, **settings})


def test_airflow_uses_sqlite_unless_told_postgres(tmp_path):
    root = _project(tmp_path)
    project = find_project(root)
    assert airflow_db.database_url(project) == f"sqlite:///{root}/.airflow/home/airflow.db"
    assert airflow_db.state_folder(project) == root / ".airflow/home"


def test_postgres_url_has_the_projects_port_and_password(tmp_path):
    root = _project(tmp_path, airflow={"database": "postgres"}, ports={"airflow_db": 6543})
    project = find_project(root)
    url = airflow_db.database_url(project)
    password = read_env(root / ".env")["AIRFLOW_DB_PASSWORD"]
    assert url == f"postgresql+psycopg2://airflow:{password}@127.0.0.1:6543/airflow"
    assert airflow_db.state_folder(project) == root / ".airflow/postgres"  # stamps go with it


@pytest.mark.bad_input
def test_starting_postgres_for_a_sqlite_project_says_what_to_set(tmp_path):
    root = _project(tmp_path)
    with pytest.raises(DsflowError, match="set airflow: database: postgres in dsflow.yml first"):
        airflow_db.start(find_project(root))
    assert not (root / ".airflow").exists()  # nothing made
