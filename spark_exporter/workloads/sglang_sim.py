"""An SGLang metrics stand-in: SGLang's own Prometheus families, fed by simulated request traffic.

SGLang (``--enable-metrics``) defines its families with prometheus_client in
``python/sglang/srt/observability/metrics_collector.py`` (0.5.23; ``srt/metrics/collector.py`` in older
releases) and mounts prometheus_client's app on ``/metrics``. This stand-in registers the families a
monitoring setup reads, with SGLang's names, types, label names and buckets:

* the scheduler's gauges, labelled ``model_name``, ``engine_type`` ("unified" without disaggregation),
  ``tp_rank``, ``pp_rank``, ``moe_ep_rank``: ``sglang:num_running_reqs``, ``sglang:num_queue_reqs``,
  ``sglang:num_used_tokens``, ``sglang:token_usage`` (a 0-1 fraction of the KV pool),
  ``sglang:gen_throughput`` (tokens/s), ``sglang:cache_hit_rate``;
* the tokenizer's, labelled ``model_name``, ``engine_type`` (and ``is_streaming`` where SGLang adds it):
  counters ``sglang:prompt_tokens_total``, ``sglang:generation_tokens_total``, ``sglang:num_requests_total``,
  ``sglang:num_aborted_requests_total``; histograms ``sglang:time_to_first_token_seconds``,
  ``sglang:inter_token_latency_seconds``, ``sglang:e2e_request_latency_seconds``.

It serves them through prometheus_client's negotiating exposition, as SGLang does, so Prometheus 2.x gets
``sglang_`` names from prometheus_client 0.23.1 on. Run: ``python -m spark_exporter.workloads.sglang_sim --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from .serving import listen_address, run_until_signal, serve_registry
from .traffic import STEP_S, Listener, Request, Traffic

# SGLang's default buckets (TokenizerMetricsCollector), seconds.
TTFT_BUCKETS = (0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400)
ITL_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080,
               0.100, 0.200, 0.400, 0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000)
E2E_BUCKETS = (0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400)
SCHEDULER_LABELS = ("model_name", "engine_type", "tp_rank", "pp_rank", "moe_ep_rank")
TOKENIZER_LABELS = ("model_name", "engine_type")
MAX_TOTAL_TOKENS = 65536  # the KV pool, tokens


class SGLangSimulator(Listener):
    """SGLang's families in their own registry, advanced to the clock (seconds) on each collect."""

    def __init__(self, model_name: str = "Qwen/Qwen2.5-7B-Instruct", seed: int = 0, rate: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.model_name = model_name
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_AdvanceOnCollect(self))
        self.traffic = Traffic(self, seed=seed, rate=rate, slots=16, clock=clock)
        self._sched = (model_name, "unified", "0", "0", "0")
        self._tok = (model_name, "unified")
        reg = self.registry

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, SCHEDULER_LABELS, registry=reg)

        self.running = gauge("sglang:num_running_reqs", "The number of running requests.")
        self.queue = gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.")
        self.used_tokens = gauge("sglang:num_used_tokens", "The number of used tokens.")
        self.token_usage = gauge("sglang:token_usage", "The token usage.")
        self.gen_throughput = gauge("sglang:gen_throughput", "The generation throughput (token/s).")
        self.cache_hit_rate = gauge("sglang:cache_hit_rate", "The prefix cache hit rate.")
        streaming = [*TOKENIZER_LABELS, "is_streaming"]
        self.prompt_tokens = Counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.",
                                     streaming, registry=reg)
        self.generation_tokens = Counter("sglang:generation_tokens_total", "Number of generation tokens processed.",
                                         streaming, registry=reg)
        self.requests = Counter("sglang:num_requests_total", "Number of requests processed.", streaming, registry=reg)
        self.aborted = Counter("sglang:num_aborted_requests_total", "Number of requests aborted.", TOKENIZER_LABELS,
                               registry=reg)
        self.ttft = Histogram("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                              streaming, buckets=TTFT_BUCKETS, registry=reg)
        self.itl = Histogram("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                             TOKENIZER_LABELS, buckets=ITL_BUCKETS, registry=reg)
        self.e2e = Histogram("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds",
                             streaming, buckets=E2E_BUCKETS, registry=reg)
        for metric in (self.running, self.queue, self.used_tokens, self.token_usage, self.gen_throughput,
                       self.cache_hit_rate):
            metric.labels(*self._sched)
        self.aborted.labels(*self._tok)
        self.itl.labels(*self._tok)
        for s in ("true", "false"):
            for m in (self.prompt_tokens, self.generation_tokens, self.requests, self.ttft, self.e2e):
                m.labels(*self._tok, s)
        self._tokens_this_step = 0

    def arrived(self, req: Request, queue_full: bool) -> None:
        if queue_full:
            self.aborted.labels(*self._tok).inc()

    def prefilled(self, req: Request, t: float, seconds: float) -> None:
        s = str(req.streaming).lower()
        self.prompt_tokens.labels(*self._tok, s).inc(req.prompt_tokens)
        self.generation_tokens.labels(*self._tok, s).inc()
        self.ttft.labels(*self._tok, s).observe(t - req.arrival)
        self._tokens_this_step += 1

    def token(self, req: Request, itl_s: float) -> None:
        self.generation_tokens.labels(*self._tok, str(req.streaming).lower()).inc()
        self.itl.labels(*self._tok).observe(itl_s)
        self._tokens_this_step += 1

    def finished(self, req: Request, t: float) -> None:
        s = str(req.streaming).lower()
        self.requests.labels(*self._tok, s).inc()
        self.e2e.labels(*self._tok, s).observe(t - req.arrival)

    def stepped(self, traffic: Traffic, t: float) -> None:
        self.running.labels(*self._sched).set(len(traffic.running))
        self.queue.labels(*self._sched).set(len(traffic.waiting))
        used = traffic.kv_tokens
        self.used_tokens.labels(*self._sched).set(used)
        self.token_usage.labels(*self._sched).set(min(used / MAX_TOTAL_TOKENS, 1.0))
        self.gen_throughput.labels(*self._sched).set(self._tokens_this_step / STEP_S)
        self._tokens_this_step = 0


class _AdvanceOnCollect(Collector):
    """Registered first, so every scrape of the registry first brings the simulation up to date."""

    def __init__(self, sim: SGLangSimulator) -> None:
        self._sim = sim

    def describe(self) -> list:  # type: ignore[type-arg]
        return []

    def collect(self) -> Iterator:  # type: ignore[type-arg]
        self._sim.traffic.advance()
        return iter(())


def serve(sim: SGLangSimulator, host: str, port: int) -> WSGIServer:
    """Serve ``sim`` on ``host:port`` through prometheus_client's negotiating exposition (``/metrics``)
    and ``/health``, from a daemon thread. Raises OSError when it cannot listen.
    """
    return serve_registry(sim.registry, host, port, name="sglang-sim-http")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spark_exporter.workloads.sglang_sim",
                                     description="Serve simulated SGLang metrics on /metrics.")
    parser.add_argument("--listen", type=listen_address, default=("127.0.0.1", 30000), metavar="HOST:PORT",
                        help="address to serve on (default: 127.0.0.1:30000, SGLang's port)")
    parser.add_argument("--model", default="Qwen/Qwen2.5-7B-Instruct", help="served model name (label model_name)")
    parser.add_argument("--seed", type=int, default=0, help="traffic seed")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the simulated SGLang /metrics until SIGINT or SIGTERM; exit status 2 for bad arguments or
    when it cannot listen.
    """
    args = _parser().parse_args(argv)
    return run_until_signal("sglang_sim", lambda: serve(SGLangSimulator(args.model, args.seed, args.rate),
                                                        *args.listen))


if __name__ == "__main__":
    sys.exit(main())
