"""A small real Apache Spark application for the demo and the tests: local mode, metrics on for Prometheus.

:func:`spark_conf` is the ``spark-defaults.conf`` of docs/spark.md (PrometheusServlet on the driver's UI
port, the executors endpoint, the application status source) for a local application on a loopback
port. :func:`unavailable_reason` says why a Spark application cannot start here (no PySpark, no Java
17+ runtime), or None. ``python -m spark_exporter.workloads.spark_app --ui-port PORT`` runs an
application whose slow job (tasks that sleep) runs again and again, with a small shuffle each round,
so ``DAGScheduler.job.activeJobs`` and the shuffle counters move; SIGINT or SIGTERM cancels the job and
stops the context (and with it Spark's JVM).

PySpark is optional (the test extra installs it); nothing here imports it until a session starts.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

PROG = "python -m spark_exporter.workloads.spark_app"
MIN_JAVA = 17  # PySpark 4 runs on Java 17 or 21
ENABLE_HINT = "install a Java 17+ runtime (Debian: openjdk-17-jre-headless) and PySpark (pip install pyspark)"
_JAVA_VERSION = re.compile(r'version "(?:1\.)?(\d+)')  # `java -version`: 'openjdk version "17.0.15" ...'


def spark_conf(ui_port: int, app_name: str, master: str = "local[2]") -> dict[str, str]:
    """The spark-defaults.conf lines of docs/spark.md, for a local application on 127.0.0.1:``ui_port``."""
    return {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.port": str(ui_port),
        "spark.port.maxRetries": "0",  # the UI port is the one the inventory names, or start-up fails
        "spark.driver.memory": "512m",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.prometheus.enabled": "true",
        "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
        "spark.metrics.appStatusSource.enabled": "true",
        "spark.sql.shuffle.partitions": "2",
    }


def java_major(java: str | None = None, timeout: float = 20.0) -> int | None:
    """The major version of ``java`` (default: the one on JAVA_HOME, else PATH); None if it does not run."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    m = _JAVA_VERSION.search(out.stderr + out.stdout)
    return int(m.group(1)) if m else None


def unavailable_reason() -> str | None:
    """Why a local Spark application cannot start here, in one line; None when PySpark and Java 17+ are present."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed"
    major = java_major()
    if major is None:
        return "no Java runtime found (JAVA_HOME or java on PATH)"
    if major < MIN_JAVA:
        return f"Java {major} found, Spark needs {MIN_JAVA} or newer"
    return None


def start_session(conf: dict[str, str]) -> Any:
    """A SparkSession (its own JVM) with ``conf``; Python workers run this interpreter.

    Every socket of the driver, its UI included, listens on ``spark.driver.bindAddress`` when the conf names one.
    """
    from pyspark.sql import SparkSession  # imported here: PySpark is optional

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Spark's web UI (Jetty) ignores spark.driver.bindAddress: it binds SPARK_LOCAL_IP, else 0.0.0.0
    # (WebUI.bind). The JVM that getOrCreate() launches inherits this process's environment.
    bind = conf.get("spark.driver.bindAddress")
    if bind:
        os.environ["SPARK_LOCAL_IP"] = bind
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _sleeping_task(seconds: float):  # type: ignore[no-untyped-def]
    """A task body that sleeps; built in a closure so cloudpickle ships it by value to the worker."""
    def run(x: int) -> int:
        import time
        time.sleep(seconds)
        return x
    return run


def run_jobs(session: Any, stop: threading.Event, task_s: float) -> None:
    """Until ``stop``: a slow job (two tasks of ``task_s`` seconds) then a small shuffle job, again and again."""
    sc = session.sparkContext
    while not stop.is_set():
        with contextlib.suppress(Exception):  # cancelled at shutdown
            sc.setJobGroup("slow", "two tasks that sleep", interruptOnCancel=True)
            sc.parallelize([0, 1], 2).map(_sleeping_task(task_s)).collect()
            sc.setJobGroup("shuffle", "a small shuffle")
            sc.parallelize(range(2000), 2).map(lambda x: (x % 13, x)).reduceByKey(lambda a, b: a + b).collect()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run a local Spark application with a slow job in a loop.")
    p.add_argument("--ui-port", type=int, required=True, help="the driver's UI port on 127.0.0.1 (metrics too)")
    p.add_argument("--app-name", default="spark-exporter-demo", help="spark.app.name")
    p.add_argument("--task-seconds", type=float, default=10.0, help="how long each slow task sleeps")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo's local Spark application until a signal.

    Exit status 1 when Spark is unavailable, 2 for bad arguments.
    """
    args = _parser().parse_args(argv)
    if not 0 < args.ui_port < 65536 or args.task_seconds <= 0:
        print(f"{PROG}: error: --ui-port must be 1..65535 and --task-seconds > 0", file=sys.stderr)
        return 2
    reason = unavailable_reason()
    if reason is not None:
        print(f"{PROG}: error: {reason}; {ENABLE_HINT}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    # Spark writes an executor's activeTasks to its status store at most every liveUpdate.period (100 ms)
    # and otherwise only on a later event: two tasks starting together can leave the executors endpoint
    # at 0 for the whole of a job. 0 writes every change, which a small demo application affords.
    conf = {**spark_conf(args.ui_port, args.app_name), "spark.ui.liveUpdate.period": "0"}
    session = start_session(conf)
    print(f"spark_app: application {session.sparkContext.applicationId} UI http://127.0.0.1:{args.ui_port}",
          flush=True)
    worker = threading.Thread(target=run_jobs, args=(session, stop, args.task_seconds), daemon=True)
    worker.start()
    stop.wait()
    # The demo signals the whole process group, so the JVM may be stopping already: py4j then fails.
    with contextlib.suppress(Exception):
        session.sparkContext.cancelAllJobs()
    worker.join(timeout=20)
    with contextlib.suppress(Exception):
        session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
