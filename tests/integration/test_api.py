"""The JSON API over real HTTP: the spec's shapes, errors, auth, rate limiting, CORS, TLS and caching."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from helpers.api import api
from helpers.cluster import SimulatedCluster
from helpers.procs import (
    PYTHON,
    Proc,
    free_port,
    http_get,
    parse_metrics,
    prometheus,
    require_binary,
    tempdir,
    wait_for,
)

TOKEN = "s3cret-token-0123456789abcdef"
INJECTIONS = [
    '"} or vector(1) or up{x="',
    'spark-01"} or vector(1) #',
    "spark-01\n",
    "spark-01\\",
    "{}",
    "$(id)",
    "spark-01' OR '1'='1",
    "../../etc/passwd",
    "%00",
    "a" * 200,
]


def get(proc: Proc, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    status, body, hdrs = http_get(proc.url + path, timeout=15, headers=headers)
    return status, json.loads(body), hdrs


@pytest.fixture(scope="module")
def cluster(gb10_cluster: SimulatedCluster) -> Iterator[SimulatedCluster]:
    yield gb10_cluster  # shared per session (conftest.py): these tests only read from it


@pytest.fixture(scope="module")
def open_api(cluster: SimulatedCluster) -> Iterator[Proc]:
    """Loopback, no token, no rate limit, a 1 s cache: for shapes and errors."""
    with api(
        "--api.rate-limit=0",
        "--api.cache-ttl=1s",
        prometheus_url=cluster.prometheus_url,
        inventory=cluster.inventory_path,
    ) as p:

        def complete() -> bool:
            nodes = get(p, "/api/v1/nodes")[1]["nodes"]
            net = get(p, "/api/v1/network")[1]
            return (
                len(nodes) == 2
                and all(n["up"] and n["utilization"] is not None for n in nodes)
                and len(net["nodes"]) == 2
            )

        wait_for(complete, timeout=60, interval=1.0, what="both nodes complete in the API")
        yield p


def prometheus_queries(prom_url: str) -> float:
    """Instant queries Prometheus has served, from its own /metrics."""
    status, body, _ = http_get(prom_url + "/metrics")
    fam = parse_metrics(body.decode())["prometheus_http_requests"]
    return sum(
        s.value
        for s in fam.samples
        if s.name == "prometheus_http_requests_total" and s.labels.get("handler") == "/api/v1/query"
    )


def assert_json_error(status: int, body: Any, expected: int, kind: str | None = None) -> None:
    assert status == expected
    assert body["status"] == "error" and isinstance(body["error"], str) and "Traceback" not in body["error"]
    if kind is not None:
        assert body["errorType"] == kind


ORIGIN = "https://command-center.example"


@pytest.fixture(scope="module")
def token_api(cluster: SimulatedCluster) -> Iterator[Proc]:
    with tempdir("token") as d:
        (d / "token").write_text(TOKEN + "\n")
        with api(
            f"--api.token-file={d / 'token'}",
            "--api.rate-limit=0",
            prometheus_url=cluster.prometheus_url,
            inventory=cluster.inventory_path,
        ) as p:
            yield p


@pytest.fixture(scope="module")
def cors_api(cluster: SimulatedCluster) -> Iterator[Proc]:
    with api(f"--api.cors-origin={ORIGIN}", "--api.rate-limit=0", prometheus_url=cluster.prometheus_url) as p:
        yield p


class TestSpecShapes:
    def test_cluster_overview(self, open_api: Proc) -> None:
        """The overview carries the spec's fields as numbers, plus nodes, health and reasons."""
        status, body, headers = get(open_api, "/api/v1/cluster/overview")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        for key in ("gpuUtilization", "memoryUsedGB", "powerDrawW"):
            assert isinstance(body[key], float)
        assert body["activeJobs"] is None and "activeJobs" in body["missing"]
        assert (body["nodesUp"], body["nodesTotal"], body["cluster"]) == (2, 2, "test")

    def test_node_gpu(self, open_api: Proc) -> None:
        """A node's GPU answer has the spec's five fields as numbers, and the per-GPU detail."""
        status, body, _ = get(open_api, "/api/v1/nodes/spark-01/gpu")
        assert status == 200
        for key in ("utilization", "temperature", "powerDraw", "memoryUsedMB", "memoryFreeMB"):
            assert isinstance(body[key], float), key
        assert body["node"] == "spark-01" and [g["modelName"] for g in body["gpus"]] == ["NVIDIA GB10"]

    def test_utilization_history_is_the_spec_list(self, open_api: Proc) -> None:
        """History is a bare list of {metric, values: [{timestamp in ms, value}]}, step in a header."""
        status, body, headers = get(open_api, "/api/v1/nodes/spark-02/gpu/utilization?duration=1h")
        assert status == 200 and isinstance(body, list) and len(body) == 1
        assert body[0]["metric"]["node"] == "spark-02"
        assert body[0]["values"] and all(set(p) == {"timestamp", "value"} for p in body[0]["values"])
        assert body[0]["values"][0]["timestamp"] > 10**12  # ms, not s
        assert headers["X-Step-Seconds"] == "15"

    def test_history_envelope(self, open_api: Proc) -> None:
        """?envelope=true returns the history with its step, range and reasons."""
        status, body, _ = get(open_api, "/api/v1/nodes/spark-02/gpu/utilization?duration=6h&envelope=true")
        assert status == 200 and body["step"] == 60 and body["end"] - body["start"] == 21600
        assert isinstance(body["series"], list)

    def test_network(self, open_api: Proc) -> None:
        """Network totals use the spec's names, with per-node and per-interface detail beside them."""
        status, body, _ = get(open_api, "/api/v1/network")
        assert status == 200
        assert isinstance(body["rxBytesPerSec"], float) and isinstance(body["txBytesPerSec"], float)
        assert {n["node"] for n in body["nodes"]} == {"spark-01", "spark-02"}
        assert all(i["device"] != "lo" for i in body["interfaces"])

    def test_nodes(self, open_api: Proc) -> None:
        """The node list names every inventory node with its health."""
        status, body, _ = get(open_api, "/api/v1/nodes")
        assert status == 200 and [(n["node"], n["up"]) for n in body["nodes"]] == [
            ("spark-01", True),
            ("spark-02", True),
        ]

    def test_openapi_document(self, open_api: Proc) -> None:
        """The OpenAPI document is JSON, version 3, and lists every endpoint."""
        status, body, _ = get(open_api, "/api/v1/openapi.json")
        assert status == 200 and body["openapi"].startswith("3.")
        assert set(body["paths"]) == {
            "/api/v1/cluster/overview",
            "/api/v1/nodes",
            "/api/v1/nodes/{node}/gpu",
            "/api/v1/nodes/{node}/gpu/utilization",
            "/api/v1/nodes/{node}/gpu/temperature",
            "/api/v1/nodes/{node}/gpu/power",
            "/api/v1/nodes/{node}/gpu/memory",
            "/api/v1/network",
            "/api/v1/spark",
            "/api/v1/inference",
            "/api/v1/alerts",
            "/api/v1/openapi.json",
        }
        for ref in json.dumps(body).split('"$ref": "')[1:]:
            name = ref.split('"')[0].rsplit("/", 1)[-1]
            assert name in body["components"]["schemas"]

    def test_workload_pages_without_workloads(self, open_api: Proc) -> None:
        """With no Spark or vLLM target, /api/v1/spark and /api/v1/inference list nothing, with null totals
        and a reason for each (tests/test_query_workloads.py has them with a real Spark and vLLM)."""
        _, spark, _ = get(open_api, "/api/v1/spark")
        assert spark["applications"] == [] and "no Spark application scraped" in spark["missing"]["applications"]
        assert spark["totals"]["activeJobs"] is None and "totals.activeJobs" in spark["missing"]
        _, llm, _ = get(open_api, "/api/v1/inference")
        assert llm["models"] == [] and "no vLLM, SGLang or llama.cpp target scraped" in llm["missing"]["models"]
        assert llm["totals"]["generationTokensPerSec"] is None and "totals.generationTokensPerSec" in llm["missing"]


class TestErrors:
    def test_bad_duration_is_400(self, open_api: Proc) -> None:
        """A duration outside 1h|6h|24h|7d is a 400 JSON error."""
        assert_json_error(
            *get(open_api, "/api/v1/nodes/spark-01/gpu/utilization?duration=2h")[:2], 400, "bad_parameter"
        )

    def test_unknown_node_is_404(self, open_api: Proc) -> None:
        """A well-formed node missing from the inventory is a 404 naming the known nodes."""
        status, body, _ = get(open_api, "/api/v1/nodes/spark-99/gpu")
        assert_json_error(status, body, 404, "unknown_node")
        assert "spark-01" in body["error"]

    @pytest.mark.parametrize("payload", INJECTIONS)
    def test_injection_attempts_are_rejected(self, open_api: Proc, payload: str) -> None:
        """A hostile node name, in the path or in ?node=, is rejected with 400 or 404 and never answered."""
        quoted = urllib.parse.quote(payload, safe="")
        for path in (
            f"/api/v1/nodes/{quoted}/gpu",
            f"/api/v1/nodes/{quoted}/gpu/utilization?duration=1h",
            f"/api/v1/network?node={quoted}",
        ):
            status, body, _ = get(open_api, path)
            assert status in (400, 404), path
            assert_json_error(status, body, status)

    def test_unknown_path_and_method_are_json(self, open_api: Proc) -> None:
        """An unknown path is a JSON 404 and a POST a JSON 405."""
        assert_json_error(*get(open_api, "/api/v2/nothing")[:2], 404)
        req = urllib.request.Request(open_api.url + "/api/v1/nodes", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=5)
        assert_json_error(exc.value.code, json.loads(exc.value.read()), 405)


class TestPrometheusDown:
    def test_closed_port_is_503(self, cluster: SimulatedCluster) -> None:
        """With nothing listening at the Prometheus URL every rollup is a 503 JSON error."""
        with api(
            "--api.rate-limit=0",
            prometheus_url=f"http://127.0.0.1:{free_port()}",
            inventory=cluster.inventory_path,
        ) as p:
            for path in ("/api/v1/cluster/overview", "/api/v1/nodes/spark-01/gpu", "/api/v1/network"):
                assert_json_error(*get(p, path)[:2], 503, "prometheus_unavailable")

    def test_prometheus_stopped_mid_test_is_503(self) -> None:
        """An API answering 200 turns to 503 once its Prometheus stops."""
        with prometheus({"global": {"scrape_interval": "15s"}, "scrape_configs": []}) as prom:
            with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=prom.url) as p:
                assert get(p, "/api/v1/cluster/overview")[0] == 200
                prom.stop()
                assert_json_error(*get(p, "/api/v1/cluster/overview")[:2], 503, "prometheus_unavailable")


class TestAuth:
    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
    )
    def test_missing_or_wrong_token_is_401(self, token_api: Proc, header: str | None) -> None:
        """Without the exact bearer token every endpoint answers 401 with a Bearer challenge."""
        status, body, headers = get(
            token_api, "/api/v1/cluster/overview", {"Authorization": header} if header else None
        )
        assert_json_error(status, body, 401, "unauthorized")
        assert headers["WWW-Authenticate"].startswith("Bearer")

    def test_right_token_is_200(self, token_api: Proc) -> None:
        """The configured token is accepted."""
        assert get(token_api, "/api/v1/openapi.json", {"Authorization": f"Bearer {TOKEN}"})[0] == 200

    def test_open_network_bind_needs_a_token(self, cluster: SimulatedCluster) -> None:
        """Listening beyond loopback without a token is refused at start-up with a clear message."""
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                "spark_exporter",
                "api",
                f"--web.listen-address=0.0.0.0:{free_port()}",
                f"--prometheus.url={cluster.prometheus_url}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 2 and "--api.token-file" in out.stderr and "Traceback" not in out.stderr

    def test_short_token_file_is_refused(self, cluster: SimulatedCluster) -> None:
        """A token shorter than 16 characters is a configuration error."""
        with tempdir("token") as d:
            (d / "token").write_text("short")
            out = subprocess.run(
                [
                    PYTHON,
                    "-m",
                    "spark_exporter",
                    "api",
                    f"--api.token-file={d / 'token'}",
                    f"--prometheus.url={cluster.prometheus_url}",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
        assert out.returncode == 2 and "at least 16" in out.stderr


class TestRateLimit:
    def test_burst_beyond_the_limit_gets_429_with_retry_after(self, cluster: SimulatedCluster) -> None:
        """A client sending faster than its bucket refills gets 429 JSON errors with Retry-After."""
        with api("--api.rate-limit=0.2", "--api.rate-burst=3", prometheus_url=cluster.prometheus_url) as p:
            answers = [get(p, "/api/v1/openapi.json") for _ in range(8)]
        limited = [a for a in answers if a[0] == 429]
        assert limited, [a[0] for a in answers]
        for status, body, headers in limited:
            assert_json_error(status, body, 429, "rate_limited")
            assert int(headers["Retry-After"]) >= 1


class TestCors:
    def test_allowed_origin_is_echoed(self, cors_api: Proc) -> None:
        """A request from a configured origin gets Access-Control-Allow-Origin for that origin."""
        _, _, headers = get(cors_api, "/api/v1/openapi.json", {"Origin": ORIGIN})
        assert headers["Access-Control-Allow-Origin"] == ORIGIN

    def test_allowed_origin_may_read_x_cache_and_retry_after(self, cors_api: Proc) -> None:
        """A configured origin is allowed to read X-Cache (stale answers) and Retry-After (429)."""
        _, _, headers = get(cors_api, "/api/v1/cluster/overview", {"Origin": ORIGIN})
        exposed = {h.strip().lower() for h in headers["Access-Control-Expose-Headers"].split(",")}
        assert exposed == {"x-cache", "retry-after"}

    def test_other_origin_gets_no_cors_headers(self, cors_api: Proc) -> None:
        """A request from any other origin gets no CORS grant."""
        _, _, headers = get(cors_api, "/api/v1/openapi.json", {"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in headers

    @pytest.mark.parametrize(("origin", "expected"), [(ORIGIN, 204), ("https://evil.example", 403)])
    def test_preflight(self, cors_api: Proc, origin: str, expected: int) -> None:
        """A preflight is answered 204 for a configured origin and 403 for any other."""
        req = urllib.request.Request(
            cors_api.url + "/api/v1/cluster/overview",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status, headers = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as e:
            status, headers = e.code, dict(e.headers)
        assert status == expected
        assert ("Authorization" in headers.get("Access-Control-Allow-Headers", "")) == (expected == 204)


class TestCaching:
    def test_concurrent_clients_cause_one_prometheus_query(self, cluster: SimulatedCluster) -> None:
        """Thirty clients asking for the overview at once cost Prometheus one query (single-flight + TTL)."""
        with api(
            "--api.rate-limit=0",
            "--api.cache-ttl=60s",
            prometheus_url=cluster.prometheus_url,
            inventory=cluster.inventory_path,
        ) as p:
            before = prometheus_queries(cluster.prometheus_url)
            with ThreadPoolExecutor(30) as pool:
                answers = list(pool.map(lambda _: get(p, "/api/v1/cluster/overview"), range(30)))
            after = prometheus_queries(cluster.prometheus_url)
        assert after - before == 1
        assert {a[0] for a in answers} == {200}
        assert len({json.dumps(a[1], sort_keys=True) for a in answers}) == 1
        assert sorted(a[2]["X-Cache"] for a in answers).count("miss") == 1


class TestTls:
    def test_web_config_tls_serves_https(self, cluster: SimulatedCluster) -> None:
        """With a web config holding a certificate the API speaks HTTPS, verified against that certificate."""
        openssl = require_binary("openssl")
        with tempdir("tls") as d:
            subprocess.run(
                [
                    openssl,
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                    str(d / "k.pem"),
                    "-out",
                    str(d / "c.pem"),
                ],
                check=True,
                capture_output=True,
            )
            (d / "web.yml").write_text(
                yaml.safe_dump({"tls_server_config": {"cert_file": "c.pem", "key_file": "k.pem"}})
            )
            with api(
                f"--web.config.file={d / 'web.yml'}", prometheus_url=cluster.prometheus_url, scheme="https"
            ) as p:
                ctx = ssl.create_default_context(cafile=str(d / "c.pem"))
                url = f"https://127.0.0.1:{p.port}/api/v1/openapi.json"

                def fetch() -> dict[str, Any]:
                    with urllib.request.urlopen(url, timeout=5, context=ctx) as resp:
                        return dict(json.loads(resp.read()))

                doc = wait_for(fetch, timeout=30, what="API over HTTPS")
        assert doc["openapi"].startswith("3.")
