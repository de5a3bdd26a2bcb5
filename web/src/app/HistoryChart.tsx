import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { HISTORY_DURATIONS, type HistoryDuration } from "../api/client";
import { useGpuUtilizationHistory } from "../hooks";
import { alignHistory, historyWindow } from "./chartData";
import { Skeleton } from "./Value";

/** GPU utilisation history of one node, one line per series, with the spec's 1h/6h/24h/7d choices. */
export function HistoryChart({ node }: { node: string }) {
  const [duration, setDuration] = useState<HistoryDuration>("1h");
  const { data, error, isPending } = useGpuUtilizationHistory(node, duration);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || !data || data.series.length === 0) return;
    const columns = alignHistory(data.series);
    const span = historyWindow(data, columns[0]);
    const plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: 140,
        scales: { x: { time: true, ...(span ? { range: span } : {}) }, y: { range: [0, 100] } },
        series: [{}, ...data.series.map((s, i) => ({ label: s.metric["gpu"] ?? `series ${i}`, stroke: COLORS[i % COLORS.length] }))],
        axes: [{}, { size: 56, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${t} %`) }],
        legend: { show: false },
      },
      columns as uPlot.AlignedData,
      el,
    );
    return () => plot.destroy();
  }, [data]);

  return (
    <div className="history" data-testid={`history-${node}`}>
      <div className="history-head">
        <span>GPU utilisation history</span>
        <span className="durations" role="group" aria-label="history range">
          {HISTORY_DURATIONS.map((d) => (
            <button key={d} className={d === duration ? "active" : ""} onClick={() => setDuration(d)}>
              {d}
            </button>
          ))}
        </span>
      </div>
      {isPending && <Skeleton lines={3} />}
      {error && !data && <div className="error-inline">{error.message}</div>}
      {data && data.series.length === 0 && (
        <div className="empty" title={Object.values(data.missing ?? {}).join("; ")}>
          no history yet{Object.keys(data.missing ?? {}).length ? `: ${Object.values(data.missing)[0]}` : ""}
        </div>
      )}
      <div ref={box} className="chart" />
    </div>
  );
}

const COLORS = ["#76b900", "#1f77b4", "#ff7f0e", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2"];
