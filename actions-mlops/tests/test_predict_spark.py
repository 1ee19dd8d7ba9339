"""`make predict SPARK=<master>`: the batch scored on a real Spark standalone cluster (a master
and two workers on 127.0.0.1) gives the in-process output, also when a worker dies mid-job.

Runs when Java and pyspark are installed (.ci/run and requirements-dev.txt install both), once
(the default example). It took 244 s at a load average of 12 on 2 cores, most of it JVMs and
Python workers starting (a Python worker's import of the package and model: 24 s)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from actions_mlops import cli
from conftest import EXAMPLE
from test_predict import project, registry, table

__all__ = ["project", "registry"]  # the fixtures, imported for pytest

pytestmark = [
    pytest.mark.skipif(
        shutil.which("java") is None or importlib.util.find_spec("pyspark") is None,
        reason="needs Java 17+ and pyspark (the spark extra)",
    ),
    pytest.mark.skipif(  # its registry is its own: one run is enough (minutes on a loaded machine)
        EXAMPLE != "classification-breast_cancer",
        reason="the cluster test runs once, with the default example",
    ),
]
ROWS, PARTITION_BYTES = 30_000, "128k"  # the CSV is about 1.4 MB: 11 partitions
# A bound, not an expectation: at a load average of 12 the job took 180 s.
JOB_SECONDS = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spark_class(*args: str, log: Path) -> subprocess.Popen:
    """A Spark daemon (bin/spark-class) in its own process group, output to `log`."""
    home = Path(importlib.util.find_spec("pyspark").origin).parent  # type: ignore[union-attr]
    env = os.environ | {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(log.parent / f"{log.stem}-work"),
    }
    with log.open("w") as handle:
        return subprocess.Popen(
            [str(home / "bin" / "spark-class"), *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(log: Path, pattern: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text()):
            return
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in {log} after {seconds} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict]:
    """A standalone master and two one-core workers of 640 MB each on 127.0.0.1."""
    logs = tmp_path_factory.mktemp("spark")
    port, ui = free_port(), free_port()
    master = spark_class(
        "org.apache.spark.deploy.master.Master",
        *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)),
        log=logs / "master.log",
    )
    daemons = [master]
    try:
        wait_for(logs / "master.log", r"I have been elected leader", master, 60)
        url = f"spark://127.0.0.1:{port}"
        workers = []
        for index in (1, 2):
            log = logs / f"worker{index}.log"
            options = ("--host", "127.0.0.1", "--cores", "1", "--memory", "640m")
            worker = spark_class(
                "org.apache.spark.deploy.worker.Worker",
                *(*options, "--webui-port", str(free_port()), url),
                log=log,
            )
            workers.append((worker, log))
            daemons.append(worker)
        for worker, log in workers:
            wait_for(log, r"Successfully registered with master", worker, 60)
        yield {"url": url, "workers": [w for w, _ in workers], "logs": logs}
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)


def predict(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "actions_mlops", "predict", *args],
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_cluster_scores_as_in_process_even_when_a_worker_dies(project, cluster, capsys):
    """In process, then on the cluster with one worker killed once the first part is written:
    the same rows, classes and probabilities (within 1e-9), and one summary line."""
    batch = table(ROWS, seed=11).drop(columns="label")
    batch.loc[[3, 5], "size"] = [40.0, -3.0]  # flagged, scored
    batch.loc[7, "count"] = 2.5  # refused
    batch.to_csv("batch.csv", index=False)
    assert cli.main(["predict", "--data", "batch.csv", "--out", "local.parquet"]) == 0
    counts = re.search(r"\d+ scored, .* \(\d+ not scored\)", capsys.readouterr().out)
    assert counts is not None and counts.group().endswith("(1 not scored)")
    conf = f"--conf spark.sql.files.maxPartitionBytes={PARTITION_BYTES}"
    conf += " --conf spark.executor.memory=512m pyspark-shell"  # Spark 4: 450 MB or more
    out = Path("cluster.parquet")
    job = predict(
        *("--data", "batch.csv", "--out", str(out), "--spark", cluster["url"]),
        env={"PYSPARK_SUBMIT_ARGS": conf, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
    parts, killed = None, None
    deadline = time.monotonic() + JOB_SECONDS
    while job.poll() is None and time.monotonic() < deadline and killed is None:
        # A task's committed part (Spark's _temporary folder until the job is committed).
        done = [p for p in Path().glob(".cluster.parquet.spark-*/**/part-*") if p.is_file()]
        if done:  # the first committed partition: the job is under way
            parts = len(done)
            killed = cluster["workers"][0]
            os.killpg(killed.pid, signal.SIGKILL)
        time.sleep(0.05)
    try:
        stdout, stderr = job.communicate(timeout=JOB_SECONDS)
    except subprocess.TimeoutExpired:
        job.kill()
        stdout, stderr = job.communicate()
    assert job.returncode == 0, stderr[-3000:]
    assert killed is not None and parts is not None and parts < 11, "no worker killed mid-job"
    assert f"predict: {ROWS} rows of batch.csv with example-model@v0.1.0 (stage prod" in stdout
    assert f"on Spark {cluster['url']}" in stdout
    assert f"): {counts.group()}, " in stdout  # rows scored, flagged, not scored: as in process
    local, remote = pq.read_table("local.parquet"), pq.read_table(out)
    assert remote.schema == local.schema
    assert remote.num_rows == ROWS and not list(Path().glob(".cluster.parquet*"))
    for name in ("customer", "row", "size", "count", "colour", "prediction", "warnings"):
        assert remote.column(name).equals(local.column(name)), name
    for name in ("probability_high", "probability_low"):
        difference = remote.column(name).to_numpy() - local.column(name).to_numpy()
        assert np.nanmax(np.abs(difference)) <= 1e-9
