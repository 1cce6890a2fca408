"""Write runtime/src/dsflow/spark-classes.txt.gz: the classes a Spark Connect server loads.

``just setup`` builds the projects' Spark class archive from this list (see
dsflow/spark_class_cache.py). The list belongs to one Spark version: after a pyspark upgrade
(`just lock`), run `just spark-class-list`; a unit test compares its first line with the
installed pyspark. A stale list still works (missing classes are skipped), it only covers less.

The server runs the kind of work the project templates do: JSON and CSV read, a typed
schema, a partitioned Parquet write and read, SQL with an aggregate and a window, toPandas
and createDataFrame from pandas, so that a job's first run finds its classes archived.
"""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyspark
from dsflow.spark_class_cache import CLASS_LIST as TARGET
from dsflow.spark_class_cache import SERVER_CLASS

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _work(spark, folder: Path) -> None:  # noqa: ANN001  # a pyspark Connect session
    import pandas as pd

    rows = [{"station": f"s{i % 7}", "t": i * 0.5, "at": f"2024-01-01T{i % 24:02d}:00:00"}
            for i in range(500)]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.to_json(folder / "in.json", orient="records", lines=True)
    frame.to_csv(folder / "in.csv", index=False)
    df = spark.read.schema("station string, t double, at timestamp").json(str(folder / "in.json"))
    df.show(3)
    df.withColumn("ds", df.at.cast("date")).write.mode("overwrite").partitionBy("ds").parquet(
        str(folder / "out")
    )
    csv = spark.read.option("header", True).option("inferSchema", True)
    csv.csv(str(folder / "in.csv")).count()
    spark.read.parquet(str(folder / "out")).createOrReplaceTempView("obs")
    spark.sql(
        "select station, ds, avg(t) mean_t, count(*) n, "
        "rank() over (partition by ds order by avg(t) desc) r from obs group by station, ds"
    ).toPandas()
    spark.createDataFrame(pd.DataFrame(rows)).groupBy("station").count().collect()


def main() -> int:
    home = Path(pyspark.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listing = folder / "classes.txt"
        port = _free_port()
        command = [
            str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--master", "local[2]",
            "--conf", "spark.ui.enabled=false",
            "--conf", f"spark.driver.extraJavaOptions=-XX:DumpLoadedClassList={listing}",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", f"spark.connect.grpc.binding.port={port}",
        ]  # fmt: skip
        log = (folder / "server.log").open("wb")
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable},
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not _listening(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    print((folder / "server.log").read_text()[-2000:], file=sys.stderr)
                    return 1
                time.sleep(0.2)
            from pyspark.sql import SparkSession

            spark = SparkSession.builder.remote(f"sc://localhost:{port}").getOrCreate()
            _work(spark, folder)
            spark.stop()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
        lines = listing.read_text().splitlines()
    body = "\n".join(line for line in lines if not line.startswith("#"))
    header = f"# pyspark {pyspark.__version__}: classes a Spark Connect server loads (tools/spark_class_list.py)\n"  # noqa: E501
    # mtime=0: the same list gives the same bytes, so git sees no change
    TARGET.write_bytes(gzip.compress((header + body + "\n").encode(), mtime=0))
    print(f"{TARGET.relative_to(REPO)}: {len(lines)} classes for pyspark {pyspark.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
