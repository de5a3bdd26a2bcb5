import { ApiError, type Answer, type NetworkStats, type NodeGpuMetrics, type NodeList } from "../api/client";
import { fmt, fmtLinkRate, fmtMiBAsGiB, fmtPercent, fmtRate, lowClockUnderLoad, rdmaStateBadge } from "../format";
import { HistoryChart } from "./HistoryChart";
import { Skeleton, Value } from "./Value";

export type NodeSummary = NonNullable<NodeList["nodes"]>[number];
type RdmaPort = NonNullable<NetworkStats["rdmaPorts"]>[number];

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="row">
      <span className="label">{label}</span>
      <span className="val">{children}</span>
    </div>
  );
}

/** How the node's memory splits: what the GPU holds, what is free, and the rest (CPU side, OS, caches). */
function MemoryBreakdown({ used, free, total, unified }: { used?: number | null; free?: number | null; total?: number | null; unified: boolean }) {
  if (used == null || total == null || total <= 0) return null;
  const other = unified && free != null ? Math.max(0, total - used - free) : null;
  const pct = (v: number) => `${Math.min(100, (100 * v) / total)}%`;
  return (
    <div className="membar" data-testid="memory-breakdown">
      <div className="bar stacked">
        <div className="seg gpu" style={{ width: pct(used) }} title={`GPU: ${fmtMiBAsGiB(used)}`} />
        {other != null && <div className="seg other" style={{ width: pct(other) }} title={`rest of shared memory: ${fmtMiBAsGiB(other)}`} />}
      </div>
      <div className="legend">
        <span className="key gpu" /> GPU <span className="v">{fmtMiBAsGiB(used)}</span>
        {other != null && other >= 0.05 * 1024 && (
          <>
            {" "}
            <span className="key other" /> other <span className="v">{fmtMiBAsGiB(other)}</span>
          </>
        )}
        {free != null && (
          <>
            {" "}
            · free <span className="v">{fmtMiBAsGiB(free)}</span>
          </>
        )}
      </div>
    </div>
  );
}

/** One RDMA (RoCE/InfiniBand) port: receive and transmit rates, and its state with the physical state and link
 * rate on hover. */
function RdmaPortRow({ node, port }: { node: string; port: RdmaPort }) {
  const m = port.missing ?? {};
  const badge = rdmaStateBadge(port.state);
  const detail = [port.physicalState?.replace(/_/g, " "), port.linkRateBytesPerSec == null ? null : fmtLinkRate(port.linkRateBytesPerSec)]
    .filter(Boolean)
    .join(" · ");
  return (
    <Row label={`RDMA ${port.device}/${port.port}`}>
      <span data-testid={`rdma-${node}-${port.device}-${port.port}`}>
        ↓ <Value testId="rdma-rx" text={fmtRate(port.rxBytesPerSec)} reason={m["rxBytesPerSec"]} /> ↑{" "}
        <Value testId="rdma-tx" text={fmtRate(port.txBytesPerSec)} reason={m["txBytesPerSec"]} />
        {badge ? (
          <span className={`badge ${badge.down ? "down" : "ok"}`} title={detail || undefined} data-testid="rdma-state">
            {badge.text}
          </span>
        ) : (
          <>
            {" "}
            <Value testId="rdma-state" text={fmt(null)} reason={m["state"]} />
          </>
        )}
      </span>
    </Row>
  );
}

/** One node at one snapshot instant: GPU utilisation, temperature, power, clocks, memory, CPU, network (Ethernet
 * interfaces, then RDMA ports when the node has any), history. `gpu` is the node's answer at that instant (or its
 * error); undefined while the first snapshot loads, or in an outage before any (`dashes`: the banner says why). */
export function NodePanel({
  node,
  summary,
  network,
  gpu,
  time,
  dashes = false,
}: {
  node: string;
  summary?: NodeSummary;
  network?: NetworkStats;
  gpu?: Answer<NodeGpuMetrics> | ApiError;
  time?: number;
  dashes?: boolean;
}) {
  const error = gpu instanceof ApiError ? gpu : null;
  const data = gpu && !(gpu instanceof ApiError) ? gpu.body : undefined;
  const isPending = !gpu;
  // Until this node's own answer arrives, the node list's view of it (up, stale, down) is shown.
  const known = data ?? summary;
  const state = !known || known.up == null ? "unknown" : known.up === false ? "down" : known.stale ? "stale" : "up";
  if (error && !data) {
    return (
      <section className="node error" data-testid={`node-${node}`} data-state="error" aria-label={`node ${node}`}>
        <h2>{node}</h2>
        <div className="error-inline" role="alert">
          {error.status === 404 ? `Unknown node: ${error.message}` : error.message}
        </div>
      </section>
    );
  }
  const m = data?.missing ?? {};
  const ifaces = (network?.interfaces ?? []).filter((i) => i.node === node);
  const rdma = (network?.rdmaPorts ?? []).filter((p) => p.node === node);
  return (
    <section className={`node ${state}`} data-testid={`node-${node}`} data-state={state} data-time={time} aria-label={`node ${node}`}>
      <h2>
        {node} {state !== "up" && <span className={`badge ${state}`}>{state}</span>}
      </h2>
      {isPending || !data ? (
        dashes ? (
          <div className="row">
            <span className="label">GPU utilisation</span>
            <span className="val">
              <Value testId={`util-${node}`} text={fmt(null)} reason="no answer from the API yet" />
            </span>
          </div>
        ) : (
          <Skeleton lines={6} />
        )
      ) : (
        <>
          <Row label="GPU utilisation">
            <Value testId={`util-${node}`} text={fmtPercent(data.utilization)} reason={m["utilization"]} />
          </Row>
          <Row label="Temperature">
            <Value testId={`temp-${node}`} text={fmt(data.temperature, " °C", 0)} reason={m["temperature"]} />
          </Row>
          <Row label="Power">
            <Value testId={`power-${node}`} text={fmt(data.powerDraw, " W", 1)} reason={m["powerDraw"]} />
          </Row>
          {(data.gpus ?? []).map((g) => {
            const flag = lowClockUnderLoad(g.utilization, g.smClockMHz, g.throttleReasons);
            return (
              <Row key={g.gpu} label={`GPU ${g.gpu} clocks`}>
                <Value text={fmt(g.smClockMHz, " MHz", 0)} /> SM · <Value text={fmt(g.memClockMHz, " MHz", 0)} /> mem
                {flag && (
                  <span className="badge warn" title={flag} data-testid="low-clock">
                    low clocks
                  </span>
                )}
              </Row>
            );
          })}
          <Row label={data.memorySource === "unified" ? "Memory (unified)" : "GPU memory"}>
            <Value text={fmtMiBAsGiB(data.memoryUsedMB)} reason={m["memoryUsedMB"]} /> of{" "}
            <Value text={fmtMiBAsGiB(data.memoryTotalMB)} reason={m["memoryTotalMB"]} />
          </Row>
          <MemoryBreakdown
            used={data.memoryUsedMB}
            free={data.memoryFreeMB}
            total={data.memoryTotalMB}
            unified={data.memorySource === "unified"}
          />
          <Row label="CPU">
            <Value
              text={fmtPercent(summary?.cpuUtilizationPercent)}
              reason={summary?.missing?.["cpuUtilizationPercent"] ?? summary?.missing?.["cpuUtilization"]}
            />
          </Row>
          {ifaces.map((i) => (
            <Row key={i.device} label={i.device ?? "?"}>
              ↓ <Value text={fmtRate(i.rxBytesPerSec)} /> ↑ <Value text={fmtRate(i.txBytesPerSec)} />
              {i.up === false && <span className="badge down">down</span>}
            </Row>
          ))}
          {rdma.map((p) => (
            <RdmaPortRow key={`${p.device}/${p.port}`} node={node} port={p} />
          ))}
          <HistoryChart node={node} />
        </>
      )}
    </section>
  );
}
