"""A vLLM metrics simulator: vLLM's own Prometheus families, fed by simulated request traffic.

It serves, through prometheus_client as vLLM does, the families of vLLM's V1 engine
(``vllm/v1/metrics/loggers.py``) with vLLM's types, label names (``model_name``, ``engine``,
``finished_reason``, ``sleep_state``) and histogram buckets, for one of two releases:

* ``0.9`` (0.9.2): the deprecated names next to their replacements, as that release wrote both:
  ``vllm:gpu_cache_usage_perc`` and ``vllm:kv_cache_usage_perc``, ``vllm:gpu_prefix_cache_*`` and
  ``vllm:prefix_cache_*``; inter-token latency only as ``vllm:time_per_output_token_seconds``.
* ``0.12``: only the current names: ``vllm:kv_cache_usage_perc``, ``vllm:prefix_cache_*``,
  ``vllm:inter_token_latency_seconds`` (the old ones are hidden from 0.12 on), plus the families
  added since (``vllm:engine_sleep_state``, ``vllm:request_time_per_output_token_seconds``,
  ``vllm:external_prefix_cache_*``, ``vllm:mm_cache_*``).
* ``0.34``: 0.12's families and the always-on ones added since (``vllm:num_requests_waiting_by_reason``,
  ``vllm:prompt_tokens_by_source``, ``vllm:prompt_tokens_cached``, ``vllm:prompt_tokens_cached_by_source``,
  ``vllm:admission_rejections``, ``vllm:request_num_preemptions``, ``vllm:request_prefill_kv_computed_tokens``,
  ``vllm:estimated_{flops,read_bytes,write_bytes}_per_gpu_total``); ``finished_reason`` also takes
  ``error`` and ``repetition``.

``tests/reference/vllm/<version>.json`` holds each release's families as its source defines them.

Traffic is a function of the seed and of time: requests arrive as a Poisson process, wait for a
slot and KV-cache room, are prefilled, decode token by token and finish with ``stop``, ``length`` or
``abort``; a request whose KV blocks no longer fit is preempted. The simulation advances when it is
scraped (in steps of ``STEP_S`` seconds of its clock), so the same seed and the same scrape times give
the same exposition. Run as a server: ``python -m spark_exporter.workloads.vllm_sim --help``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from .serving import listen_address, run_until_signal, serve_registry

VERSIONS = ("0.9", "0.12", "0.34")
FINISHED_REASONS = ("stop", "length", "abort")  # vLLM's FinishReason, as str() writes it
FINISHED_REASONS_0_34 = (*FINISHED_REASONS, "error", "repetition")
WAITING_REASONS = ("capacity", "deferred")  # 0.34's num_requests_waiting_by_reason
PROMPT_SOURCES = ("local_compute", "local_cache_hit", "external_kv_transfer")  # 0.34's PromptTokenStats
CACHE_HIT_SOURCES = ("device", "host", "p2p", "disk", "external_unspecified")  # 0.34's CacheHitSource
ADMISSION_REASONS = ("max_num_queued_reqs", "max_num_queued_tokens")  # 0.34
REQUEST_NUM_PREEMPTIONS_BUCKETS = (1, 2, 3, 4, 5, 10, 20)
MODEL_PARAMS = 8e9  # parameters of the simulated model: estimated FLOPs and bytes per token
WEIGHT_BYTES = 2 * MODEL_PARAMS  # bf16
STEP_S = 0.05  # simulated seconds per step
MAX_CATCH_UP_S = 60.0  # a longer pause between scrapes is skipped, not replayed (bounded work per scrape)
MAX_WAITING = 256  # requests beyond this queue length are aborted on arrival (bounded memory)

# Buckets exactly as vLLM defines them.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                           120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
ITERATION_TOKENS_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
PARAMS_N_BUCKETS = (1, 2, 5, 10, 20)


def build_1_2_5_buckets(max_value: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to ``max_value``: vLLM's buckets for token-count histograms."""
    buckets: list[int] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return buckets
            buckets.append(value)
        exponent += 1


@dataclass
class Profile:
    """The simulated server: model, engines and how fast it serves."""

    model_name: str = "meta-llama/Llama-3.1-8B-Instruct"
    engines: int = 1
    max_model_len: int = 8192
    request_rate: float = 2.0  # arriving requests per second per engine
    max_num_seqs: int = 32  # requests decoded together
    block_size: int = 16  # tokens per KV block
    num_gpu_blocks: int = 2048  # KV blocks per engine
    prefill_tokens_per_s: float = 6000.0
    itl_base_s: float = 0.025  # inter-token latency of a lone request; grows with the batch


@dataclass
class _Request:
    arrival: float
    prompt_tokens: int
    max_tokens: int
    target_tokens: int  # tokens it will generate before finishing (<= max_tokens)
    abort: bool
    scheduled: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    prefill_done_at: float | None = None
    generated: int = 0
    cached_tokens: int = 0  # prompt tokens found in the prefix cache
    preemptions: int = 0

    def kv_blocks(self, block_size: int) -> int:
        return math.ceil((self.prompt_tokens + self.generated + 1) / block_size)


@dataclass
class _Engine:
    index: int
    rng: random.Random
    waiting: deque[_Request] = field(default_factory=deque)
    running: list[_Request] = field(default_factory=list)
    next_arrival: float = 0.0


class VLLMSimulator:
    """vLLM's metric families for ``version`` in their own registry, advanced to the clock on each collect.

    ``clock`` returns seconds (monotonic); the simulation starts at its first reading. Raises ValueError
    for an unknown version or a profile that cannot run (no engine, no slot, rate <= 0).
    """

    def __init__(self, version: str = "0.12", seed: int = 0, profile: Profile | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if version not in VERSIONS:
            raise ValueError(f"unknown vLLM version {version!r} (expected one of {', '.join(VERSIONS)})")
        self.version = version
        self.profile = profile or Profile()
        p = self.profile
        if p.engines < 1 or p.max_num_seqs < 1 or p.request_rate <= 0 or p.num_gpu_blocks < 1:
            raise ValueError("profile needs engines >= 1, max_num_seqs >= 1, request_rate > 0, num_gpu_blocks >= 1")
        self._clock = clock
        self._lock = threading.Lock()
        self._now = clock()
        self._engines = [_Engine(i, random.Random(f"{seed}:{i}")) for i in range(p.engines)]
        for engine in self._engines:
            engine.next_arrival = self._now + engine.rng.expovariate(p.request_rate)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_AdvanceOnCollect(self))
        self._define_families()

    # ------------------------------------------------------------------------------------------------
    # families

    def _define_families(self) -> None:
        p, reg, old = self.profile, self.registry, self.version == "0.9"
        new = self.version == "0.34"
        self.finished_reasons = FINISHED_REASONS_0_34 if new else FINISHED_REASONS
        labels = ["model_name", "engine"]

        def gauge(name: str, doc: str, extra: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, [*labels, *extra], registry=reg)

        def counter(name: str, doc: str, extra: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, [*labels, *extra], registry=reg)

        def histogram(name: str, doc: str, buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=reg)

        token_buckets = build_1_2_5_buckets(p.max_model_len)
        self.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
        self.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
        self.kv_usage = [gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")]
        self.prefix_queries = [counter("vllm:prefix_cache_queries",
                                       "Prefix cache queries, in terms of number of queried tokens.")]
        self.prefix_hits = [counter("vllm:prefix_cache_hits",
                                    "Prefix cache hits, in terms of number of cached tokens.")]
        if old:
            self.kv_usage.append(gauge("vllm:gpu_cache_usage_perc",
                                       "GPU KV-cache usage. 1 means 100 percent usage."
                                       "DEPRECATED: Use vllm:kv_cache_usage_perc instead."))
            self.prefix_queries.append(counter("vllm:gpu_prefix_cache_queries",
                                               "GPU prefix cache queries, in terms of number of queried"
                                               "tokens. DEPRECATED: Use vllm:prefix_cache_queries instead."))
            self.prefix_hits.append(counter("vllm:gpu_prefix_cache_hits",
                                            "GPU prefix cache hits, in terms of number of cached "
                                            "tokens. DEPRECATED: Use vllm:prefix_cache_hits instead."))
        else:
            sleep = gauge("vllm:engine_sleep_state", "Engine sleep state; awake = 0 means engine is sleeping; "
                          "awake = 1 means engine is awake; weights_offloaded = 1 means sleep level 1; "
                          "discard_all = 1 means sleep level 2.", ["sleep_state"])
            for engine in self._engines:
                for state in ("awake", "weights_offloaded", "discard_all"):
                    sleep.labels(p.model_name, str(engine.index), state).set(1 if state == "awake" else 0)
            for name, doc in (
                    ("vllm:external_prefix_cache_queries", "External prefix cache queries from KV connector "
                     "cross-instance cache sharing, in terms of number of queried tokens."),
                    ("vllm:external_prefix_cache_hits", "External prefix cache hits from KV connector "
                     "cross-instance cache sharing, in terms of number of cached tokens."),
                    ("vllm:mm_cache_queries", "Multi-modal cache queries, in terms of number of queried items."),
                    ("vllm:mm_cache_hits", "Multi-modal cache hits, in terms of number of cached items.")):
                c = counter(name, doc)
                for engine in self._engines:
                    c.labels(p.model_name, str(engine.index))  # present at 0, as vLLM creates them
        self.preemptions = counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")
        self.success = counter("vllm:request_success", "Count of successfully processed requests.",
                               ["finished_reason"])
        self.h_prompt = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                                  token_buckets)
        self.h_generation = histogram("vllm:request_generation_tokens", "Number of generation tokens processed.",
                                      token_buckets)
        self.h_iteration = histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.",
                                     ITERATION_TOKENS_BUCKETS)
        self.h_max_generation = histogram("vllm:request_max_num_generation_tokens",
                                          "Histogram of maximum number of requested generation tokens.",
                                          token_buckets)
        self.h_n = histogram("vllm:request_params_n", "Histogram of the n request parameter.", PARAMS_N_BUCKETS)
        self.h_max_tokens = histogram("vllm:request_params_max_tokens",
                                      "Histogram of the max_tokens request parameter.", token_buckets)
        self.h_ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                                TTFT_BUCKETS)
        if old:
            self.h_itl = histogram("vllm:time_per_output_token_seconds",
                                   "Histogram of time per output token in seconds.", ITL_BUCKETS)
            self.h_request_tpot: Histogram | None = None
        else:
            self.h_itl = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                                   ITL_BUCKETS)
            self.h_request_tpot = histogram("vllm:request_time_per_output_token_seconds",
                                            "Histogram of time_per_output_token_seconds per request.", ITL_BUCKETS)
        self.h_e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
                               REQUEST_LATENCY_BUCKETS)
        self.h_queue = histogram("vllm:request_queue_time_seconds",
                                 "Histogram of time spent in WAITING phase for request.", REQUEST_LATENCY_BUCKETS)
        self.h_inference = histogram("vllm:request_inference_time_seconds",
                                     "Histogram of time spent in RUNNING phase for request.", REQUEST_LATENCY_BUCKETS)
        self.h_prefill = histogram("vllm:request_prefill_time_seconds",
                                   "Histogram of time spent in PREFILL phase for request.", REQUEST_LATENCY_BUCKETS)
        self.h_decode = histogram("vllm:request_decode_time_seconds",
                                  "Histogram of time spent in DECODE phase for request.", REQUEST_LATENCY_BUCKETS)
        # vLLM labels its cache_config_info with every CacheConfig field; these are the commonly read ones.
        info_labels = ["block_size", "cache_dtype", "enable_prefix_caching", "gpu_memory_utilization",
                       "num_gpu_blocks", "engine"]
        info = Gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", info_labels, registry=reg)
        for engine in self._engines:
            info.labels(str(p.block_size), "auto", "True", "0.9", str(p.num_gpu_blocks), str(engine.index)).set(1)
        # Every per-engine series exists from the start, at 0, as vLLM binds them at start-up.
        for engine in self._engines:
            values = (p.model_name, str(engine.index))
            for metric in (self.running, self.waiting, *self.kv_usage, *self.prefix_queries, *self.prefix_hits,
                           self.preemptions, self.prompt_tokens, self.generation_tokens, self.h_prompt,
                           self.h_generation, self.h_iteration, self.h_max_generation, self.h_n, self.h_max_tokens,
                           self.h_ttft, self.h_itl, self.h_e2e, self.h_queue, self.h_inference, self.h_prefill,
                           self.h_decode, *([self.h_request_tpot] if self.h_request_tpot else [])):
                metric.labels(*values)
            for reason in self.finished_reasons:
                self.success.labels(*values, reason)
        self.v034: _Families034 | None = _Families034(self, reg) if new else None

    # ------------------------------------------------------------------------------------------------
    # simulation

    def advance(self) -> None:
        """Run the simulation up to the clock's current reading (at most MAX_CATCH_UP_S of it)."""
        with self._lock:
            now = self._clock()
            if now - self._now > MAX_CATCH_UP_S:
                self._now = now - MAX_CATCH_UP_S
                for engine in self._engines:  # arrivals of the skipped time are dropped, not replayed
                    if engine.next_arrival < self._now:
                        engine.next_arrival = self._now + engine.rng.expovariate(self.profile.request_rate)
            while self._now + STEP_S <= now:
                self._now += STEP_S
                for engine in self._engines:
                    self._step(engine, self._now)

    def _labels(self, engine: _Engine) -> tuple[str, str]:
        return (self.profile.model_name, str(engine.index))

    def _step(self, engine: _Engine, t: float) -> None:
        p, lv = self.profile, self._labels(engine)
        while engine.next_arrival <= t:
            self._arrive(engine, engine.next_arrival)
            engine.next_arrival += engine.rng.expovariate(p.request_rate)
        self._schedule(engine, t)
        tokens = 0
        batch = len(engine.running)
        itl = p.itl_base_s * (1 + 0.02 * max(batch - 1, 0)) * engine.rng.uniform(0.9, 1.1)
        for req in list(engine.running):
            if req.prefill_done_at is None or req.prefill_done_at > t:
                continue
            if req.first_token is None:  # prefill finished during this step: the first token appears
                req.first_token = req.last_token = t
                req.generated = 1
                tokens += req.prompt_tokens + 1
                self.prompt_tokens.labels(*lv).inc(req.prompt_tokens)
                self.generation_tokens.labels(*lv).inc()
                self.h_ttft.labels(*lv).observe(t - req.arrival)
            else:
                assert req.last_token is not None
                while req.generated < req.target_tokens and req.last_token + itl <= t:
                    req.last_token += itl
                    req.generated += 1
                    tokens += 1
                    self.generation_tokens.labels(*lv).inc()
                    self.h_itl.labels(*lv).observe(itl)
            if req.generated >= req.target_tokens:
                self._finish(engine, req, t)
        self._preempt_if_full(engine)
        if tokens:
            self.h_iteration.labels(*lv).observe(tokens)
        if self.v034 is not None:
            self.v034.step(lv, engine, tokens)
        self.running.labels(*lv).set(len(engine.running))
        self.waiting.labels(*lv).set(len(engine.waiting))
        usage = self._blocks_used(engine) / p.num_gpu_blocks
        for gauge in self.kv_usage:
            gauge.labels(*lv).set(min(usage, 1.0))

    def _arrive(self, engine: _Engine, t: float) -> None:
        rng, p = engine.rng, self.profile
        prompt = min(int(rng.lognormvariate(6.0, 0.8)) + 1, p.max_model_len // 2)
        max_tokens = rng.choice((64, 128, 256, 512, 1024))
        target = max_tokens if rng.random() < 0.2 else rng.randint(1, max_tokens)
        req = _Request(arrival=t, prompt_tokens=prompt, max_tokens=max_tokens, target_tokens=target,
                       abort=rng.random() < 0.03)
        lv = self._labels(engine)
        self.h_n.labels(*lv).observe(1)
        self.h_max_tokens.labels(*lv).observe(max_tokens)
        self.h_max_generation.labels(*lv).observe(max_tokens)
        if len(engine.waiting) >= MAX_WAITING:
            self.success.labels(*lv, "abort").inc()
            if self.v034 is not None:
                self.v034.admission_rejections.labels(p.model_name, "max_num_queued_reqs").inc()
            return
        engine.waiting.append(req)

    def _blocks_used(self, engine: _Engine) -> int:
        return sum(r.kv_blocks(self.profile.block_size) for r in engine.running)

    def _schedule(self, engine: _Engine, t: float) -> None:
        p, lv = self.profile, self._labels(engine)
        while engine.waiting and len(engine.running) < p.max_num_seqs:
            req = engine.waiting[0]
            if self._blocks_used(engine) + req.kv_blocks(p.block_size) > p.num_gpu_blocks:
                break
            engine.waiting.popleft()
            if req.scheduled is None:
                req.scheduled = t
                hits = req.prompt_tokens // p.block_size * p.block_size if engine.rng.random() < 0.3 else 0
                req.cached_tokens = hits
                for c in self.prefix_queries:
                    c.labels(*lv).inc(req.prompt_tokens)
                for c in self.prefix_hits:
                    c.labels(*lv).inc(hits)
                if self.v034 is not None:
                    self.v034.scheduled(lv, req)
            req.prefill_done_at = t + (req.prompt_tokens + req.generated) / p.prefill_tokens_per_s
            if req.first_token is not None:  # preempted earlier: decoding resumes after the recompute
                req.last_token = req.prefill_done_at
            engine.running.append(req)

    def _preempt_if_full(self, engine: _Engine) -> None:
        """Growing sequences that no longer fit in the KV cache push the newest one back to the queue."""
        while len(engine.running) > 1 and self._blocks_used(engine) > self.profile.num_gpu_blocks:
            victim = engine.running.pop()
            victim.prefill_done_at = None  # recomputed when it is scheduled again
            victim.preemptions += 1
            engine.waiting.appendleft(victim)
            self.preemptions.labels(*self._labels(engine)).inc()

    def _finish(self, engine: _Engine, req: _Request, t: float) -> None:
        lv = self._labels(engine)
        engine.running.remove(req)
        reason = "abort" if req.abort else "length" if req.generated >= req.max_tokens else "stop"
        assert req.scheduled is not None and req.first_token is not None
        self.success.labels(*lv, reason).inc()
        self.h_e2e.labels(*lv).observe(t - req.arrival)
        self.h_queue.labels(*lv).observe(req.scheduled - req.arrival)
        self.h_prefill.labels(*lv).observe(req.first_token - req.scheduled)
        self.h_decode.labels(*lv).observe(t - req.first_token)
        self.h_inference.labels(*lv).observe(t - req.scheduled)
        self.h_prompt.labels(*lv).observe(req.prompt_tokens)
        self.h_generation.labels(*lv).observe(req.generated)
        if self.h_request_tpot is not None and req.generated > 1:
            self.h_request_tpot.labels(*lv).observe((t - req.first_token) / (req.generated - 1))
        if self.v034 is not None:
            self.v034.finished(lv, req)


class _Families034:
    """The always-on families vLLM added between 0.12 and 0.34, bound at start-up as vLLM binds them."""

    def __init__(self, sim: VLLMSimulator, reg: CollectorRegistry) -> None:
        labels = ["model_name", "engine"]
        p = sim.profile
        self.waiting_by_reason = Gauge(
            "vllm:num_requests_waiting_by_reason", "Number of waiting requests by reason. Reason labels: "
            "'capacity' = waiting for scheduling capacity; 'deferred' = deferred by the scheduler.",
            [*labels, "reason"], registry=reg)
        self.prompt_by_source = Counter("vllm:prompt_tokens_by_source", "Number of prompt tokens by source.",
                                        [*labels, "source"], registry=reg)
        self.prompt_cached = Counter("vllm:prompt_tokens_cached",
                                     "Number of cached prompt tokens (local + external).", labels, registry=reg)
        self.cached_by_source = Counter("vllm:prompt_tokens_cached_by_source",
                                        "Prefix-cache hit tokens by the cache tier that supplied them.",
                                        [*labels, "source"], registry=reg)
        self.admission_rejections = Counter(
            "vllm:admission_rejections", "Number of admission attempts rejected by a queue limit, by reason.",
            ["model_name", "reason"], registry=reg)
        self.h_preemptions = Histogram("vllm:request_num_preemptions",
                                       "Histogram of the number of times a request was preempted.", labels,
                                       buckets=REQUEST_NUM_PREEMPTIONS_BUCKETS, registry=reg)
        self.h_kv_computed = Histogram(
            "vllm:request_prefill_kv_computed_tokens",
            "Histogram of new KV tokens computed during prefill (excluding cached tokens).", labels,
            buckets=build_1_2_5_buckets(p.max_model_len), registry=reg)
        self.flops = Counter("vllm:estimated_flops_per_gpu_total", "Estimated number of floating point operations "
                             "per GPU (for Model Flops Utilization calculations).", labels, registry=reg)
        self.read_bytes = Counter("vllm:estimated_read_bytes_per_gpu_total", "Estimated number of bytes read from "
                                  "memory per GPU (for Model Flops Utilization calculations).", labels, registry=reg)
        self.write_bytes = Counter("vllm:estimated_write_bytes_per_gpu_total", "Estimated number of bytes written "
                                   "to memory per GPU (for Model Flops Utilization calculations).", labels,
                                   registry=reg)
        for reason in ADMISSION_REASONS:
            self.admission_rejections.labels(p.model_name, reason)
        for engine in sim._engines:
            lv = (p.model_name, str(engine.index))
            for reason in WAITING_REASONS:
                self.waiting_by_reason.labels(*lv, reason)
            for source in PROMPT_SOURCES:
                self.prompt_by_source.labels(*lv, source)
            for source in CACHE_HIT_SOURCES:
                self.cached_by_source.labels(*lv, source)
            for metric in (self.prompt_cached, self.h_preemptions, self.h_kv_computed, self.flops, self.read_bytes,
                           self.write_bytes):
                metric.labels(*lv)

    def step(self, lv: tuple[str, str], engine: _Engine, tokens: int) -> None:
        self.waiting_by_reason.labels(*lv, "capacity").set(len(engine.waiting))
        if tokens:  # one forward pass: 2 FLOPs per parameter and token, the weights read once
            self.flops.labels(*lv).inc(2 * MODEL_PARAMS * tokens)
            self.read_bytes.labels(*lv).inc(WEIGHT_BYTES)
            self.write_bytes.labels(*lv).inc(tokens * 131072)  # bytes of KV written per token (8B, bf16)

    def scheduled(self, lv: tuple[str, str], req: _Request) -> None:
        self.prompt_by_source.labels(*lv, "local_compute").inc(req.prompt_tokens - req.cached_tokens)
        self.prompt_by_source.labels(*lv, "local_cache_hit").inc(req.cached_tokens)
        self.prompt_cached.labels(*lv).inc(req.cached_tokens)
        self.cached_by_source.labels(*lv, "device").inc(req.cached_tokens)

    def finished(self, lv: tuple[str, str], req: _Request) -> None:
        self.h_kv_computed.labels(*lv).observe(req.prompt_tokens - req.cached_tokens)
        if req.preemptions:  # vLLM observes only preempted requests
            self.h_preemptions.labels(*lv).observe(req.preemptions)


class _AdvanceOnCollect(Collector):
    """Registered first, so every scrape of the registry first brings the simulation up to date."""

    def __init__(self, sim: VLLMSimulator) -> None:
        self._sim = sim

    def describe(self) -> list:  # type: ignore[type-arg]
        return []

    def collect(self) -> Iterator:  # type: ignore[type-arg]
        self._sim.advance()
        return iter(())


# ----------------------------------------------------------------------------------------------------
# server


def serve(sim: VLLMSimulator, host: str, port: int) -> WSGIServer:
    """Serve ``sim`` on ``host:port`` from a daemon thread, as vLLM does: prometheus_client's own
    negotiating exposition on ``/metrics`` (so the answer to Prometheus 2.x's ``Accept`` header carries
    escaped names from prometheus_client 0.23.1 on), and ``/health``. Returns the server
    (``shutdown()`` stops it); raises OSError when it cannot listen.
    """
    return serve_registry(sim.registry, host, port, name="vllm-sim-http")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spark_exporter.workloads.vllm_sim",
                                     description="Serve simulated vLLM metrics on /metrics.")
    parser.add_argument("--vllm-version", "--version", choices=VERSIONS, default="0.12",
                        help="metric names of this release")
    parser.add_argument("--listen", type=listen_address, default=("127.0.0.1", 8000), metavar="HOST:PORT",
                        help="address to serve on (default: 127.0.0.1:8000)")
    parser.add_argument("--model", default=Profile.model_name, help="served model name (label model_name)")
    parser.add_argument("--seed", type=int, default=0, help="traffic seed")
    parser.add_argument("--engines", type=int, default=1, help="engine cores (label engine)")
    parser.add_argument("--rate", type=float, default=Profile.request_rate, help="requests per second per engine")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the simulated vLLM /metrics until SIGINT or SIGTERM.

    Exit status 2 for bad arguments or when it cannot listen.
    """
    args = _parser().parse_args(argv)

    def start() -> WSGIServer:
        sim = VLLMSimulator(args.vllm_version, args.seed,
                            Profile(model_name=args.model, engines=args.engines, request_rate=args.rate))
        return serve(sim, *args.listen)
    return run_until_signal("vllm_sim", start)


if __name__ == "__main__":
    sys.exit(main())
