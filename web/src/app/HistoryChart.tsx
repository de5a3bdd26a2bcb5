import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { HISTORY_DURATIONS, HISTORY_METRICS, type HistoryDuration, type HistoryMetric, type UtilizationHistory } from "../api/client";
import { useGpuHistory } from "../hooks";
import { alignHistory, historyWindow, type Columns } from "./chartData";
import { Skeleton } from "./Value";

const HEIGHT = 110; // px of each chart
const MIN_WIDTH = 120; // px: below it the chart is not drawn narrower (its box scrolls instead)

/** What each history is called and how its axis reads. */
const META: Record<HistoryMetric, { title: string; tick: (v: number) => string; range?: [number, number] }> = {
  utilization: { title: "GPU utilisation", tick: (v) => `${v} %`, range: [0, 100] },
  temperature: { title: "Temperature", tick: (v) => `${v} °C` },
  power: { title: "Power", tick: (v) => `${v} W` },
  memory: { title: "GPU memory", tick: (v) => `${(v / 1024).toFixed(v >= 10240 ? 0 : 1)} GiB` },
};

/** One uPlot chart, created once per metric and updated in place: new answers go through `setData` and the
 * window through `setScale`; a ResizeObserver on the box resizes it (`setSize`) at any width. */
function Chart({ history, metric }: { history: UtilizationHistory; metric: HistoryMetric }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesCount = history.series.length;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const meta = META[metric];
    const u = new uPlot(
      {
        width: Math.max(MIN_WIDTH, el.clientWidth),
        height: HEIGHT,
        scales: { x: { time: true }, y: meta.range ? { range: meta.range } : { auto: true } },
        series: [{}, ...Array.from({ length: seriesCount }, (_, i) => ({ label: `series ${i}`, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
        axes: [{ size: 28 }, { size: 60, values: (_u: uPlot, ticks: number[]) => ticks.map(meta.tick) }],
        legend: { show: false },
        cursor: { show: false },
      },
      [[]] as unknown as uPlot.AlignedData,
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(MIN_WIDTH, Math.floor(el.clientWidth));
      if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [metric, seriesCount]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    const columns: Columns = alignHistory(history.series);
    u.setData(columns as uPlot.AlignedData, true);
    const span = historyWindow(history, columns[0]);
    if (span) u.setScale("x", { min: span[0], max: span[1] });
  }, [history, seriesCount]);

  const points = history.series.reduce((n, s) => n + s.values.filter((p) => p.value != null).length, 0);
  return (
    <div
      ref={box}
      className="chart"
      role="img"
      aria-label={`${META[metric].title} over ${history.duration}`}
      data-testid={`chart-${metric}`}
      data-points={points}
    />
  );
}

function OneHistory({ node, metric, duration }: { node: string; metric: HistoryMetric; duration: HistoryDuration }) {
  const { data, error, isPending } = useGpuHistory(node, metric, duration);
  const h = data?.body;
  return (
    <figure className="history-one" data-testid={`history-${node}-${metric}`}>
      <figcaption>{META[metric].title}</figcaption>
      {isPending && !error && <Skeleton lines={2} />}
      {error && !h && <div className="error-inline">{error.message}</div>}
      {h && h.series.length === 0 && (
        <div className="empty" title={Object.values(h.missing ?? {}).join("; ")}>
          no history yet{Object.keys(h.missing ?? {}).length ? `: ${Object.values(h.missing)[0]}` : ""}
        </div>
      )}
      {h && h.series.length > 0 && <Chart history={h} metric={metric} />}
    </figure>
  );
}

/** A node's GPU utilisation, temperature, power and memory over one chosen window (1h / 6h / 24h / 7d). */
export function HistoryChart({ node }: { node: string }) {
  const [duration, setDuration] = useState<HistoryDuration>("1h");
  return (
    <div className="history" data-testid={`history-${node}`}>
      <div className="history-head">
        <span>History</span>
        <span className="durations" role="group" aria-label={`history range of ${node}`}>
          {HISTORY_DURATIONS.map((d) => (
            <button key={d} type="button" className={d === duration ? "active" : ""} aria-pressed={d === duration} onClick={() => setDuration(d)}>
              {d}
            </button>
          ))}
        </span>
      </div>
      <div className="history-grid">
        {HISTORY_METRICS.map((m) => (
          <OneHistory key={m} node={node} metric={m} duration={duration} />
        ))}
      </div>
    </div>
  );
}

const COLORS = ["#4d7a00", "#1f77b4", "#c45500", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2"];
