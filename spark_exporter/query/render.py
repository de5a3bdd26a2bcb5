"""Plain-text renderings of the API's JSON documents, for the query CLI and the demo.

Each ``render_*`` takes the JSON object the API serves for that endpoint and returns a table.
A value that is missing shows as ``n/a``, never as 0. Memory is shown in GiB everywhere (the API's
``memoryUsedGB`` as is, its ``*MB`` fields, which are MiB, divided by 1024), so the overview and the
node tables can be compared at a glance.
"""

from __future__ import annotations

from typing import Any


def clean(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\x1b``, ``\\n``): label values come from
    Prometheus, and a terminal must not run their escape codes or show a forged line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    """A figure for the table; None shows as 'n/a', never as 0."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return clean(f"{value}{unit}")


def gib(mib: float | None) -> str:
    """A memory figure given in MiB (the API's ``*MB`` fields), shown in GiB like the overview's ``*GB`` fields."""
    return fmt(None if mib is None else mib / 1024, " GiB")


def table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns separated by two spaces, cells cleaned of control characters."""
    rows = [[clean(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def render_overview(d: dict[str, Any]) -> str:
    """The cluster overview JSON (``to_json()``) as a two-column text table, with units."""
    rows = [
        ["cluster", fmt(d["cluster"])],
        ["nodes up", f"{fmt(d['nodesUp'])} / {fmt(d['nodesTotal'])}"],
        ["GPU utilisation", fmt(d["gpuUtilization"], " %")],
        ["GPU memory used", f"{fmt(d['memoryUsedGB'], ' GiB')} of {fmt(d['memoryTotalGB'], ' GiB')}"],
        ["GPU power", fmt(d["powerDrawW"], " W")],
        ["hottest GPU", fmt(d["maxGpuTemperatureC"], " C")],
        ["Spark jobs / tasks", f"{fmt(d['activeJobs'])} / {fmt(d['activeTasks'])}"],
        [
            "vLLM running / waiting",
            f"{fmt(d['vllmRequestsRunning'], '', 0)} / {fmt(d['vllmRequestsWaiting'], '', 0)}",
        ],
        ["vLLM tokens/s", fmt(d["vllmGenerationTokensPerSec"])],
        ["firing alerts", fmt(d["firingAlerts"])],
    ]
    out = table(rows)
    for t in d["downTargets"]:
        out += "\n" + clean(f"DOWN   {t['node'] or '?'} {t['job']} {t['instance']}")
    for t in d["staleTargets"]:
        age = t["lastScrapeAgeSeconds"]
        out += "\n" + clean(f"STALE  {t['node'] or '?'} {t['job']} {t['instance']} (last scrape {age}s ago)")
    return out + _footer(d)


def render_nodes(d: dict[str, Any]) -> str:
    """The nodes JSON as a text table, one row per node (GPU memory in GiB, CPU in %)."""
    rows = [["NODE", "UP", "GPUS", "UTIL", "TEMP", "POWER", "GPU MEM", "CPU"]]
    for n in d["nodes"]:
        state = "stale" if n["stale"] else fmt(n["up"])
        rows.append(
            [
                n["node"],
                state,
                fmt(n["gpuCount"]),
                fmt(n["utilization"], " %"),
                fmt(n["temperature"], " C"),
                fmt(n["powerDraw"], " W"),
                gib(n["memoryUsedMB"]),
                fmt(None if n["cpuUtilization"] is None else n["cpuUtilization"] * 100, " %"),
            ]
        )
    return table(rows) + _footer(d)


def render_node(d: dict[str, Any]) -> str:
    """One node's GPU metrics JSON as a header line and a per-GPU text table."""
    head = clean(
        f"node {d['node']}: up={fmt(d['up'])} stale={fmt(d['stale'])} util={fmt(d['utilization'], ' %')} "
        f"temp={fmt(d['temperature'], ' C')} power={fmt(d['powerDraw'], ' W')} "
        f"mem used={gib(d['memoryUsedMB'])} free={gib(d['memoryFreeMB'])} "
        f"({fmt(d['memorySource'])})"
    )
    rows = [["GPU", "MODEL", "UTIL", "TEMP", "POWER", "MEM USED", "SM CLOCK"]]
    for g in d["gpus"]:
        rows.append(
            [
                g["gpu"],
                fmt(g["modelName"]),
                fmt(g["utilization"], " %"),
                fmt(g["temperature"], " C"),
                fmt(g["powerDraw"], " W"),
                gib(g["memoryUsedMB"]),
                fmt(g["smClockMHz"], " MHz", 0),
            ]
        )
    return head + "\n" + table(rows) + _footer(d)


def render_history(d: dict[str, Any]) -> str:
    """The utilisation history JSON as one line per series: points, min/avg/max/last in %."""
    lines = [clean(f"node {d['node']}: GPU utilisation over {d['duration']}, step {d['step']}s")]
    for s in d["series"]:
        vals = [p["value"] for p in s["values"] if p["value"] is not None]
        label = clean(",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())))
        if vals:
            lines.append(
                f"{label}: {len(s['values'])} points, min {min(vals):.1f} %, "
                f"avg {sum(vals) / len(vals):.1f} %, max {max(vals):.1f} %, last {vals[-1]:.1f} %"
            )
        else:
            lines.append(f"{label}: {len(s['values'])} points, no values")
    return "\n".join(lines) + _footer(d)


def render_network(d: dict[str, Any]) -> str:
    """The network JSON as a per-interface text table (rates in B/s) with a total row."""
    rows = [["NODE", "DEVICE", "LINK", "RX B/s", "TX B/s"]]
    for i in d["interfaces"]:
        rows.append(
            [
                i["node"],
                i["device"],
                fmt(i["up"]),
                fmt(i["rxBytesPerSec"], "", 0),
                fmt(i["txBytesPerSec"], "", 0),
            ]
        )
    rows.append(["total", "", "", fmt(d["rxBytesPerSec"], "", 0), fmt(d["txBytesPerSec"], "", 0)])
    return table(rows) + _footer(d)


def _bytes(value: Any) -> str:
    """Bytes as MiB or GiB for a table; None as 'n/a'."""
    if value is None:
        return "n/a"
    return f"{value / 2**30:.1f} GiB" if value >= 2**30 else f"{value / 2**20:.1f} MiB"


def _pct(ratio: Any) -> str:
    return fmt(None if ratio is None else ratio * 100, " %")


def _ms(seconds: Any) -> str:
    return fmt(None if seconds is None else seconds * 1000, " ms", 0)


def render_spark(d: dict[str, Any]) -> str:
    """The Spark Engine page: one row per application, then the cluster's totals."""
    rows = [["APPLICATION", "NAME", "NODE", "JOBS", "EXECUTORS", "CORES", "TASKS", "FAILED 5M", "MEMORY USED",
             "MEMORY MAX", "SHUFFLE R B/s", "SHUFFLE W B/s", "GC"]]

    def row(first: list[str], a: dict[str, Any]) -> list[str]:
        return [*first, fmt(a["activeJobs"]), fmt(a["executors"]), fmt(a["cores"]), fmt(a["activeTasks"]),
                fmt(a["failedTasks5m"], "", 0), _bytes(a["memoryUsedBytes"]), _bytes(a["memoryMaxBytes"]),
                fmt(a["shuffleReadBytesPerSec"], "", 0), fmt(a["shuffleWriteBytesPerSec"], "", 0),
                _pct(a["gcTimeRatio"])]

    for a in d["applications"]:
        rows.append(row([a["applicationId"], fmt(a["applicationName"]), fmt(a["node"])], a))
    t = d["totals"]
    rows.append(row([f"total ({fmt(t['applications'])} apps)", "", ""], t))
    return table(rows) + _footer(d)


def render_inference(d: dict[str, Any]) -> str:
    """One row per inference engine, node and model (vLLM, SGLang, llama.cpp), then the cluster's totals."""
    rows = [["NODE", "ENGINE", "MODEL", "RUNNING", "WAITING", "GEN TOK/s", "PROMPT TOK/s", "TTFT P50", "TTFT P95",
             "ITL P50", "ITL P95", "E2E P95", "KV CACHE", "PREEMPT/s"]]
    for m in d["models"]:
        rows.append([
            m["node"], m["engine"], fmt(m["modelName"]), fmt(m["requestsRunning"], "", 0),
            fmt(m["requestsWaiting"], "", 0), fmt(m["generationTokensPerSec"]), fmt(m["promptTokensPerSec"]),
            _ms(m["timeToFirstTokenP50Seconds"]), _ms(m["timeToFirstTokenP95Seconds"]),
            _ms(m["interTokenLatencyP50Seconds"]), _ms(m["interTokenLatencyP95Seconds"]),
            _ms(m["e2eRequestLatencyP95Seconds"]), _pct(m["kvCacheUsage"]), fmt(m["preemptionsPerSec"], "", 2),
        ])
    t = d["totals"]
    rows.append(["total", "", "", fmt(t["requestsRunning"], "", 0), fmt(t["requestsWaiting"], "", 0),
                 fmt(t["generationTokensPerSec"]), fmt(t["promptTokensPerSec"]), "", "", "", "", "", "",
                 fmt(t["preemptionsPerSec"], "", 2)])
    return table(rows) + _footer(d)


def _footer(d: dict[str, Any]) -> str:
    out = "".join("\n" + clean(f"missing {k}: {v}") for k, v in d.get("missing", {}).items())
    out += "".join("\n" + clean(f"warning: {w}") for w in d.get("warnings", []))
    return out + ("\nwarning: partial response" if d.get("partial") else "")


RENDER = {
    "overview": render_overview,
    "nodes": render_nodes,
    "node": render_node,
    "history": render_history,
    "network": render_network,
    "spark": render_spark,
    "inference": render_inference,
}
