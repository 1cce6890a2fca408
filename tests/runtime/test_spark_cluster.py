"""`just cluster`'s settings, without starting Spark: which master the Connect server joins
with the cluster's secret (in a private properties file, never on a command line), and the
one-line refusals of bad input before anything starts. (tests/test_demo.py runs a real
cluster.)"""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
from dsflow import cli
from dsflow.envfile import CLUSTER_SECRET, read_env
from dsflow.errors import DsflowError
from dsflow.project import find_project
from dsflow.services import running
from dsflow.settings import load_settings
from dsflow.spark_cluster import is_own_master, master_url, start_cluster
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


@pytest.mark.parametrize("master", ["local[2]", "spark://10.0.0.5:7077", "spark://127.0.0.1:7078"])
def test_another_master_gets_no_secret_of_ours(tmp_path, monkeypatch, master):
    monkeypatch.setenv("DSFLOW_SPARK_CLASS_ARCHIVE", "off")
    root = _project(tmp_path, spark={"master": master})
    command, env = server_launch(find_project(root), 15002)
    assert command[command.index("--properties-file") + 1] == str(
        root / "config/spark-defaults.conf"
    )
    assert env == {} and not (root / ".dsflow/services/spark-cluster-app.conf").exists()


def test_localhost_names_the_same_master(tmp_path):
    root = _project(tmp_path, spark={"master": "spark://localhost:7077/"})
    assert is_own_master(load_settings(find_project(root)))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("workers=abc", "workers must be a number from 1 to 64, not 'abc'"),
        ("workers=\u00b2", "workers must be a number from 1 to 64, not '\u00b2'"),
        ("cores=0", "cores must be a number from 1 to 64, not '0'"),
        ("memory=lots", "memory must be like 512m or 2g, not 'lots'"),
        ("nodes=3", "unknown"),
    ],
)
def test_bad_cluster_options_are_one_line(tmp_path, monkeypatch, capsys, param, message):
    monkeypatch.chdir(_project(tmp_path))
    assert cli.main(["cluster", param]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsflow: error: ") and message in err and err.count("\n") == 1


@pytest.mark.bad_input
def test_a_taken_master_ui_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ui = taken.getsockname()[1]
        root = _project(tmp_path, ports={"spark_master_ui": ui})
        with pytest.raises(DsflowError, match=rf"port {ui} on 127.0.0.1 \(the master's web UI"):
            start_cluster(find_project(root))
    assert running(find_project(root)) == []
