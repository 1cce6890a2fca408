"""The settings behind `just cluster` and Airflow on PostgreSQL, without starting either:
which master the Connect server joins with the cluster's secret, which database URL Airflow
gets, and the one-line refusals of bad values. (tests/test_demo.py runs a real cluster and
tests/test_pipelines.py a real PostgreSQL.)"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from dsflow import airflow_db
from dsflow.envfile import CLUSTER_SECRET, read_env
from dsflow.errors import DsflowError
from dsflow.project import find_project
from dsflow.settings import load_settings
from dsflow.spark_cluster import is_own_master, master_url
from dsflow.spark_server import server_launch

from .conftest import SETTINGS, write_file, write_project


def _project(tmp_path: Path, **settings: object) -> Path:
    root = write_project(tmp_path / "project", {**SETTINGS, **settings})
    write_file(root / "config" / "spark-defaults.conf", "spark.ui.enabled false\n")
    return root


def _conf(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1].partition("=") for i, a in enumerate(command) if a == "--conf"]
    return {key: value for key, _, value in pairs}


def test_the_server_joins_the_projects_cluster_with_its_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("DSFLOW_SPARK_CLASS_ARCHIVE", "off")
    root = _project(
        tmp_path, spark={"master": "spark://127.0.0.1:7177"}, ports={"spark_master": 7177}
    )
    settings = load_settings(find_project(root))
    assert master_url(settings) == "spark://127.0.0.1:7177" and is_own_master(settings)
    command, env = server_launch(find_project(root), 15002)
    assert command[command.index("--master") + 1] == "spark://127.0.0.1:7177"
    secret = read_env(root / ".env")[CLUSTER_SECRET]
    assert len(secret) >= 32 and env == {}
    assert not any(secret in arg for arg in command)  # `ps` shows a command line to everyone
    properties = Path(command[command.index("--properties-file") + 1])
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    assert properties.read_text().splitlines() == [
        "spark.ui.enabled false",  # the project's spark-defaults.conf, then the cluster's
        "spark.authenticate true",
        f"spark.authenticate.secret {secret}",
    ]


@pytest.mark.parametrize("master", ["local[2]", "spark://10.0.0.5:7077"])
def test_another_master_gets_no_secret_of_ours(tmp_path, monkeypatch, master):
    monkeypatch.setenv("DSFLOW_SPARK_CLASS_ARCHIVE", "off")
    root = _project(tmp_path, spark={"master": master})
    command, env = server_launch(find_project(root), 15002)
    assert command[command.index("--properties-file") + 1] == str(
        root / "config/spark-defaults.conf"
    )
    assert env == {} and not (root / ".dsflow/services/spark-cluster-app.conf").exists()


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
