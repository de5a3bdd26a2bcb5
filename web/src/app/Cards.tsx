import type { ApiError } from "../api/client";
import { fmt, fmtMiBAsGiB, fmtPercent } from "../format";
import { unifiedMemoryBreakdown, type Snapshot } from "../hooks";
import { Skeleton, Value } from "./Value";

function Card({ title, children, testId }: { title: string; children: React.ReactNode; testId: string }) {
  return (
    <section className="card" data-testid={testId} aria-label={title}>
      <h2>{title}</h2>
      <div className="card-value">{children}</div>
    </section>
  );
}

const CARD_TITLES = ["Nodes up", "GPU utilisation", "GPU memory", "Power", "Hottest GPU", "Firing alerts"];

/** The overview cards of one snapshot: nodes up, GPU utilisation, memory, power, hottest GPU, alerts, workloads.
 * Before the first snapshot: skeletons while loading, dashes (the banner says why) in an outage. */
export function Cards({ snapshot, outage }: { snapshot: Snapshot | null; outage: ApiError | null }) {
  if (!snapshot) {
    return (
      <div className="cards" data-testid="cards" data-state={outage ? "outage" : "loading"}>
        {CARD_TITLES.map((t) => (
          <Card key={t} title={t} testId={`card-${t}`}>
            {outage ? <Value text={fmt(null)} reason={outage.message} /> : <Skeleton lines={1} />}
          </Card>
        ))}
      </div>
    );
  }
  const data = snapshot.overview.body;
  const answers = [...snapshot.gpus.values()].map((a) => ("body" in a ? a.body : undefined));
  const breakdown = snapshot.gpus.size > 0 ? unifiedMemoryBreakdown(answers) : null;
  const m = data.missing ?? {};
  const usedPct =
    data.memoryUsedGB != null && data.memoryTotalGB ? (100 * data.memoryUsedGB) / data.memoryTotalGB : null;
  const showOther = breakdown != null && breakdown.otherMiB >= 0.05 * 1024;
  return (
    <div className="cards" data-testid="cards" data-state="loaded" data-time={snapshot.time}>
      <Card title="Nodes up" testId="card-nodes">
        <Value
          testId="nodes-up"
          text={data.nodesUp == null ? fmt(null) : `${data.nodesUp} / ${data.nodesTotal ?? "?"}`}
          reason={m["nodesUp"]}
        />
      </Card>
      <Card title="GPU utilisation" testId="card-util">
        <Value testId="gpu-util" text={fmtPercent(data.gpuUtilization)} reason={m["gpuUtilization"]} />
      </Card>
      <Card title="GPU memory" testId="card-memory">
        <Value testId="mem-used" text={fmt(data.memoryUsedGB, " GiB")} reason={m["memoryUsedGB"]} />
        <span className="of">
          {" of "}
          <Value testId="mem-total" text={fmt(data.memoryTotalGB, " GiB")} reason={m["memoryTotalGB"]} />
        </span>
        {breakdown ? (
          <div data-testid="memory-card-breakdown" title="unified memory: what the GPUs hold, the rest, what is free">
            <div className="bar stacked">
              <div className="seg gpu" style={{ width: `${(100 * breakdown.gpuMiB) / breakdown.totalMiB}%` }} />
              {showOther && (
                <div className="seg other" style={{ width: `${(100 * breakdown.otherMiB) / breakdown.totalMiB}%` }} />
              )}
            </div>
            <div className="legend">
              <span className="key gpu" /> GPU <span className="v">{fmtMiBAsGiB(breakdown.gpuMiB)}</span>
              {showOther && (
                <>
                  {" "}
                  <span className="key other" /> other <span className="v">{fmtMiBAsGiB(breakdown.otherMiB)}</span>
                </>
              )}{" "}
              · free <span className="v">{fmtMiBAsGiB(breakdown.freeMiB)}</span>
            </div>
          </div>
        ) : (
          usedPct != null && (
            <div className="bar" title={`${usedPct.toFixed(0)} % used`}>
              <div className="bar-fill" style={{ width: `${Math.min(100, usedPct)}%` }} />
            </div>
          )
        )}
      </Card>
      <Card title="Power" testId="card-power">
        <Value testId="power" text={fmt(data.powerDrawW, " W", 0)} reason={m["powerDrawW"]} />
      </Card>
      <Card title="Hottest GPU" testId="card-temp">
        <Value testId="max-temp" text={fmt(data.maxGpuTemperatureC, " °C", 0)} reason={m["maxGpuTemperatureC"]} />
      </Card>
      <Card title="Firing alerts" testId="card-alerts">
        <Value
          testId="alerts"
          text={data.firingAlerts == null ? fmt(null) : String(data.firingAlerts)}
          reason={m["firingAlerts"]}
        />
      </Card>
      {data.activeJobs != null && (
        <Card title="Active Spark jobs" testId="card-spark">
          <Value testId="spark-jobs" text={String(data.activeJobs)} />
          {data.activeTasks != null && <span className="of"> · {data.activeTasks} tasks</span>}
        </Card>
      )}
      {(data.inferenceGenerationTokensPerSec ?? data.vllmGenerationTokensPerSec) != null && (
        <Card title="Tokens per second" testId="card-tokens">
          {/* every engine (vLLM, SGLang, llama.cpp); the vLLM-only figure where the API has no other */}
          <Value testId="tokens" text={fmt(data.inferenceGenerationTokensPerSec ?? data.vllmGenerationTokensPerSec, " tok/s", 0)} />
          {data.vllmRequestsRunning != null && (
            <span className="of">
              {" "}
              · {data.vllmRequestsRunning.toFixed(0)} running,{" "}
              <Value testId="tokens-waiting" text={fmt(data.vllmRequestsWaiting, "", 0)} reason={m["vllmRequestsWaiting"]} /> waiting
            </span>
          )}
        </Card>
      )}
    </div>
  );
}
