"""The OpenAPI document against the live API: every answer of a running API, fed by a real Prometheus
scraping simulated GB10 exporters, validates against the schema the document gives for its path and status.

Validation is by openapi-schema-validator (the OpenAPI 3.1 JSON Schema dialect over jsonschema).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError

from helpers.api import api
from helpers.cluster import SimulatedCluster, simulated_cluster
from helpers.host import sysfs_with_hwmon
from helpers.openapi import validate
from helpers.procs import Proc, free_port, http_get, tempdir, wait_for
from spark_exporter.query.openapi import openapi_document


def fetch(proc: Proc, path: str) -> tuple[int, Any, dict[str, str]]:
    status, body, headers = http_get(proc.url + path, timeout=15)
    return status, json.loads(body), headers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedCluster]:
    """Two simulated GB10 nodes whose sysfs has the fixture's ConnectX-7 RDMA ports, so the network answer
    carries RDMA ports too."""
    sysfs = sysfs_with_hwmon(tmp_path_factory.mktemp("sysfs"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_EXPORTER_PATH_SYSFS", str(sysfs))  # read by the exporters simulated_cluster starts
        with simulated_cluster(2, interval="1s") as c:
            yield c


@pytest.fixture(scope="module")
def live(cluster: SimulatedCluster) -> Iterator[tuple[Proc, dict[str, Any]]]:
    """The API with no cache and no rate limit, once both nodes have complete figures; and its document."""
    with api(
        "--api.rate-limit=0",
        "--api.cache-ttl=0s",
        prometheus_url=cluster.prometheus_url,
        inventory=cluster.inventory_path,
    ) as p:
        wait_for(
            lambda: (
                all(n["utilization"] is not None for n in fetch(p, "/api/v1/nodes")[1]["nodes"])
                and len(fetch(p, "/api/v1/network")[1]["nodes"]) == 2
                and {r["node"] for r in fetch(p, "/api/v1/network")[1]["rdmaPorts"] if r["rxBytesPerSec"] is not None}
                == {"spark-01", "spark-02"}
            ),
            timeout=60,
            interval=1.0,
            what="complete figures",
        )
        yield p, fetch(p, "/api/v1/openapi.json")[1]


# (path requested, path template in the document, expected status)
CASES = [
    ("/api/v1/cluster/overview", "/api/v1/cluster/overview", 200),
    ("/api/v1/nodes", "/api/v1/nodes", 200),
    ("/api/v1/nodes/spark-01/gpu", "/api/v1/nodes/{node}/gpu", 200),
    ("/api/v1/nodes/spark-02/gpu/utilization?duration=1h", "/api/v1/nodes/{node}/gpu/utilization", 200),
    ("/api/v1/nodes/spark-02/gpu/utilization?duration=6h&envelope=true", "/api/v1/nodes/{node}/gpu/utilization", 200),
    ("/api/v1/nodes/spark-01/gpu/temperature?duration=1h&envelope=true", "/api/v1/nodes/{node}/gpu/temperature", 200),
    ("/api/v1/nodes/spark-01/gpu/power?duration=24h", "/api/v1/nodes/{node}/gpu/power", 200),
    ("/api/v1/nodes/spark-02/gpu/memory?duration=7d&envelope=true", "/api/v1/nodes/{node}/gpu/memory", 200),
    ("/api/v1/network", "/api/v1/network", 200),
    ("/api/v1/network?node=spark-02", "/api/v1/network", 200),
    ("/api/v1/nodes?time=1700000000.5", "/api/v1/nodes", 200),
    ("/api/v1/cluster/overview?time=nan", "/api/v1/cluster/overview", 400),
    ("/api/v1/alerts", "/api/v1/alerts", 200),
    # No Spark or vLLM here: empty lists, null totals with reasons (tests/test_query_workloads.py has data).
    ("/api/v1/spark", "/api/v1/spark", 200),
    ("/api/v1/inference", "/api/v1/inference", 200),
    ("/api/v1/nodes/spark-99/gpu", "/api/v1/nodes/{node}/gpu", 404),
    ("/api/v1/nodes/spark-01/gpu/utilization?duration=2h", "/api/v1/nodes/{node}/gpu/utilization", 400),
    ("/api/v1/nodes/spark-01/gpu/utilization?duration=1h&envelope=maybe", "/api/v1/nodes/{node}/gpu/utilization", 400),
    ("/api/v1/network?node=..%2Fetc", "/api/v1/network", 400),
]


class TestLiveResponsesMatchTheDocument:
    @pytest.mark.parametrize(("path", "template", "status"), CASES, ids=[c[0] for c in CASES])
    def test_answer_validates(self, live: tuple[Proc, dict[str, Any]], path: str, template: str, status: int) -> None:
        """The live answer has the documented status and validates against that status' schema."""
        proc, doc = live
        got, body, _ = fetch(proc, path)
        assert got == status
        validate(doc, template, status, body)

    def test_every_data_path_is_exercised(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """Every documented data path is among the validated cases, so none goes unchecked."""
        _, doc = live
        assert set(doc["paths"]) - {"/api/v1/openapi.json"} == {c[1] for c in CASES if c[2] == 200}

    def test_unavailable_prometheus_answer_validates(self, cluster: SimulatedCluster) -> None:
        """With nothing listening at the Prometheus URL the 503 body validates against the Error schema."""
        with api(
            "--api.rate-limit=0", prometheus_url=f"http://127.0.0.1:{free_port()}", inventory=cluster.inventory_path
        ) as p:
            status, body, _ = fetch(p, "/api/v1/cluster/overview")
        assert status == 503
        validate(openapi_document("test"), "/api/v1/cluster/overview", 503, body)

    def test_served_document_is_the_generated_one(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """The API serves the document generated from the response models, not a hand-kept copy."""
        _, doc = live
        assert doc["components"] == openapi_document("x")["components"]
        assert doc["openapi"] == "3.1.0"


class TestGuardedAnswersMatchTheDocument:
    @pytest.mark.parametrize("path", ["/api/v1/cluster/overview", "/api/v1/openapi.json"])
    def test_unauthorized_and_rate_limited_answers_validate(self, path: str) -> None:
        """A 401 without the token and a 429 past the burst validate against the document, on every path."""
        token = "t" * 32
        with tempdir("openapi-token") as d:
            (d / "token").write_text(token)
            (d / "token").chmod(0o600)
            # nothing listens at the Prometheus URL: both answers come before any query
            with api(f"--api.token-file={d / 'token'}", "--api.rate-limit=0.01", "--api.rate-burst=2",
                     prometheus_url=f"http://127.0.0.1:{free_port()}") as p:
                doc = json.loads(http_get(p.url + "/api/v1/openapi.json", timeout=15,
                                          headers={"Authorization": f"Bearer {token}"})[1])
                unauthorized = fetch(p, path)
                limited = fetch(p, path)
        assert (unauthorized[0], limited[0]) == (401, 429)
        validate(doc, path, 401, unauthorized[1])
        validate(doc, path, 429, limited[1])


class TestTheValidationCanFail:
    def test_wrong_type_is_rejected(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """A live overview whose figure is a string instead of a number fails validation."""
        proc, doc = live
        body = fetch(proc, "/api/v1/cluster/overview")[1]
        body["gpuUtilization"] = "42"
        with pytest.raises(ValidationError):
            validate(doc, "/api/v1/cluster/overview", 200, body)

    def test_undocumented_field_is_rejected(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """A field the models do not declare, even nested in a GPU, fails validation."""
        proc, doc = live
        body = fetch(proc, "/api/v1/nodes/spark-01/gpu")[1]
        extra = copy.deepcopy(body)
        extra["gpus"][0]["fanSpeed"] = 50
        with pytest.raises(ValidationError):
            validate(doc, "/api/v1/nodes/{node}/gpu", 200, extra)

    def test_undocumented_rdma_port_field_is_rejected(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """An RDMA port with a field the models do not declare fails validation: the port rows are checked."""
        proc, doc = live
        body = fetch(proc, "/api/v1/network")[1]
        assert body["rdmaPorts"]
        body["rdmaPorts"][0]["lanes"] = 4
        with pytest.raises(ValidationError):
            validate(doc, "/api/v1/network", 200, body)

    def test_missing_required_field_is_rejected(self, live: tuple[Proc, dict[str, Any]]) -> None:
        """An error body without errorType fails validation against the Error schema."""
        _, doc = live
        with pytest.raises(ValidationError):
            validate(doc, "/api/v1/nodes/{node}/gpu", 404, {"status": "error", "error": "x"})
