"""A llama.cpp server metrics stand-in: the exact text llama.cpp's server writes on ``/metrics``.

llama.cpp's server (``llama-server --metrics``) does not use a Prometheus library: its handler
(``tools/server/server-context.cpp``, ``get_metrics``) answers ``Content-Type: text/plain; version=0.0.4``
with a ``Process-Start-Time-Unix`` header and the body ``server_task_result_metrics::to_metrics()``
(``tools/server/server-task.cpp``) writes: for each counter and then each gauge, ``# HELP``, ``# TYPE``
and one unlabelled sample ``llamacpp:<name> <value>``, the value written by a C++ stream (``%g``, six
significant digits). The families, as of the llama.cpp vendored in llama-cpp-python 0.3.36:

* counters: ``prompt_tokens_total`` (excluding cached), ``prompt_tokens_cached_total``,
  ``prompt_seconds_total``, ``tokens_predicted_total``, ``tokens_predicted_seconds_total``,
  ``n_decode_total``, ``n_tokens_max``, ``spec_decode_num_draft_tokens_total``,
  ``spec_decode_num_accepted_tokens_total``, ``spec_decode_num_drafts_total``;
* gauges: ``prompt_tokens_seconds`` and ``predicted_tokens_seconds`` (tokens/s since the previous
  ``/metrics`` request: the server resets these buckets on each one), ``requests_processing``,
  ``requests_deferred``, ``n_busy_slots_per_decode``.

No model label, no KV-cache usage and no latency histograms. The same text is served whatever the
``Accept`` header says. Run: ``python -m spark_exporter.workloads.llamacpp_sim --help``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from wsgiref.simple_server import WSGIServer

from .serving import listen_address, run_until_signal, serve_text
from .traffic import Listener, Request, Traffic

CONTENT_TYPE = "text/plain; version=0.0.4"
COUNTERS = (
    ("prompt_tokens_total", "Number of prompt tokens processed, excluding cached tokens"),
    ("prompt_tokens_cached_total", "Number of prompt tokens reused from the cache"),
    ("prompt_seconds_total", "Total time spent processing prompts"),
    ("tokens_predicted_total", "Number of generation tokens processed"),
    ("tokens_predicted_seconds_total", "Total time spent generating tokens"),
    ("n_decode_total", "Total number of llama_decode() calls, excluding speculative decoding and multimodal decoding"),
    ("n_tokens_max", "Largest observed sequence length (prompt + generation)"),
    ("spec_decode_num_draft_tokens_total", "Speculative: Total draft tokens generated"),
    ("spec_decode_num_accepted_tokens_total", "Speculative: Total draft tokens accepted by the target model"),
    ("spec_decode_num_drafts_total", "Speculative: Total speculative decoding verification steps"),
)
GAUGES = (
    ("prompt_tokens_seconds", "Average prompt throughput in tokens/s"),
    ("predicted_tokens_seconds", "Average generation throughput in tokens/s"),
    ("requests_processing", "Number of requests processing"),
    ("requests_deferred", "Number of requests deferred"),
    ("n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call"),
)


def cpp_double(value: float) -> str:
    """``value`` as ``std::ostream << double`` writes it by default (``%g``: 6 significant digits)."""
    return f"{value:g}"


class LlamaCppSimulator(Listener):
    """llama.cpp's server counters, advanced to the clock (seconds) on each :meth:`render`."""

    def __init__(self, seed: int = 0, rate: float = 1.0, slots: int = 4,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.traffic = Traffic(self, seed=seed, rate=rate, slots=slots, clock=clock)
        self.t_start = int(wall())
        self._lock = threading.Lock()
        self.c = dict.fromkeys((name for name, _ in COUNTERS), 0.0)
        self._bucket = {"prompt_n": 0, "prompt_steps": 0, "prompt_us": 0, "predict_n": 0, "predict_steps": 0,
                        "predict_us": 0}
        self._busy_slots = 0

    def prefilled(self, req: Request, t: float, seconds: float) -> None:
        us = int(seconds * 1e6)
        self.c["prompt_tokens_total"] += req.prompt_tokens
        self.c["prompt_seconds_total"] += us / 1e6
        b = self._bucket
        b["prompt_n"] += req.prompt_tokens
        b["prompt_steps"] += req.prompt_tokens
        b["prompt_us"] += us

    def token(self, req: Request, itl_s: float) -> None:
        us = int(itl_s * 1e6)
        self.c["tokens_predicted_total"] += 1
        self.c["tokens_predicted_seconds_total"] += us / 1e6
        b = self._bucket
        b["predict_n"] += 1
        b["predict_steps"] += 1
        b["predict_us"] += us

    def stepped(self, traffic: Traffic, t: float) -> None:
        if traffic.running:
            self.c["n_decode_total"] += 1
            self._busy_slots += len(traffic.running)
        longest = max((r.prompt_tokens + r.generated for r in traffic.running), default=0)
        self.c["n_tokens_max"] = max(self.c["n_tokens_max"], longest)

    def render(self) -> bytes:
        """The ``/metrics`` body, as llama.cpp writes it; resets the throughput buckets as llama.cpp does."""
        with self._lock:
            self.traffic.advance()
            b = self._bucket
            gauges = {
                "prompt_tokens_seconds": b["prompt_steps"] / b["prompt_us"] * 1e6 if b["prompt_us"] else 0.0,
                "predicted_tokens_seconds": b["predict_steps"] / b["predict_us"] * 1e6 if b["predict_us"] else 0.0,
                "requests_processing": float(len(self.traffic.running)),
                "requests_deferred": float(len(self.traffic.waiting)),
                "n_busy_slots_per_decode": self._busy_slots / max(self.c["n_decode_total"], 1.0),
            }
            lines: list[str] = []
            for kind, items, values in (("counter", COUNTERS, self.c), ("gauge", GAUGES, gauges)):
                for name, doc in items:
                    lines += [f"# HELP llamacpp:{name} {doc}", f"# TYPE llamacpp:{name} {kind}",
                              f"llamacpp:{name} {cpp_double(values[name])}"]
            self._bucket = dict.fromkeys(b, 0)
            return ("\n".join(lines) + "\n").encode()


def serve(sim: LlamaCppSimulator, host: str, port: int) -> WSGIServer:
    """Serve ``sim`` on ``host:port`` (``/metrics`` as llama.cpp writes it, ``/health``) from a daemon thread.

    Raises OSError when it cannot listen.
    """
    return serve_text(sim.render, CONTENT_TYPE, host, port,
                      headers=lambda: [("Process-Start-Time-Unix", str(sim.t_start))], name="llamacpp-sim-http")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spark_exporter.workloads.llamacpp_sim",
                                     description="Serve simulated llama.cpp server metrics on /metrics.")
    parser.add_argument("--listen", type=listen_address, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                        help="address to serve on (default: 127.0.0.1:8080, llama-server's port)")
    parser.add_argument("--seed", type=int, default=0, help="traffic seed")
    parser.add_argument("--rate", type=float, default=1.0, help="requests per second")
    parser.add_argument("--parallel", type=int, default=4, help="slots (llama-server --parallel)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the simulated llama.cpp /metrics until SIGINT or SIGTERM; exit status 2 for bad arguments or
    when it cannot listen.
    """
    args = _parser().parse_args(argv)
    return run_until_signal("llamacpp_sim", lambda: serve(LlamaCppSimulator(args.seed, args.rate, args.parallel),
                                                          *args.listen))


if __name__ == "__main__":
    sys.exit(main())
