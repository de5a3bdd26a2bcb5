import type { ApiError } from "../api/client";
import { DASH, fmt, fmtBytes, fmtPercent, fmtRate } from "../format";
import { useInference, useOutage, useSparkApplications } from "../hooks";
import { Value } from "./Value";

/** A workload endpoint that failed while the rest of the API answers: its table states the error once. */
function Failed({ title, testId, error }: { title: string; testId: string; error: ApiError }) {
  return (
    <section className="table-card" data-testid={testId} data-state="error" aria-label={title}>
      <h2>{title}</h2>
      <div className="error-inline" role="alert">
        Cannot read {title.toLowerCase()}: {error.message}
        {error.errorType ? ` (${error.errorType}, HTTP ${error.status})` : ""}
      </div>
    </section>
  );
}

/** Spark applications and inference rows (vLLM, SGLang, llama.cpp), shown only when the cluster runs them, or when their endpoint fails
 * while the overview answers (in a Prometheus outage the banner says it once). */
export function Workloads({ outage }: { outage: boolean }) {
  const spark = useSparkApplications();
  const inference = useInference();
  const sparkError = useOutage(spark);
  const inferenceError = useOutage(inference);
  const apps = spark.data?.body.applications ?? [];
  const models = inference.data?.body.models ?? [];
  const showSparkError = !outage && sparkError != null;
  const showInferenceError = !outage && inferenceError != null;
  if (apps.length === 0 && models.length === 0 && !showSparkError && !showInferenceError) return null;
  return (
    <div className="workloads">
      {showSparkError && <Failed title="Spark applications" testId="spark-apps" error={sparkError} />}
      {showInferenceError && <Failed title="Inference" testId="inference" error={inferenceError} />}
      {!showSparkError && apps.length > 0 && (
        <section className="table-card" data-testid="spark-apps">
          <h2>Spark applications</h2>
          <table>
            <thead>
              <tr>
                <th>application</th><th>node</th><th>jobs</th><th>tasks</th><th>executors</th><th>cores</th>
                <th>memory</th><th>shuffle read / write</th><th>failed tasks (5m)</th><th>GC</th>
              </tr>
            </thead>
            <tbody>
              {apps.map((a) => {
                const m = a.missing ?? {};
                return (
                  <tr key={a.applicationId} data-testid={`spark-app-${a.applicationId}`}>
                    <td title={a.applicationId}>{a.applicationName ?? a.applicationId}</td>
                    <td>{a.node ?? "—"}</td>
                    <td><Value text={fmt(a.activeJobs, "", 0)} reason={m["activeJobs"]} /></td>
                    <td><Value text={fmt(a.activeTasks, "", 0)} reason={m["activeTasks"]} /></td>
                    <td><Value text={fmt(a.executors, "", 0)} reason={m["executors"]} /></td>
                    <td><Value text={fmt(a.cores, "", 0)} reason={m["cores"]} /></td>
                    <td>
                      <Value text={fmtBytes(a.memoryUsedBytes)} reason={m["memoryUsedBytes"]} />
                      {" / "}
                      <Value text={fmtBytes(a.memoryMaxBytes)} reason={m["memoryMaxBytes"]} />
                    </td>
                    <td>
                      <Value text={fmtRate(a.shuffleReadBytesPerSec)} reason={m["shuffleReadBytesPerSec"]} />
                      {" / "}
                      <Value text={fmtRate(a.shuffleWriteBytesPerSec)} reason={m["shuffleWriteBytesPerSec"]} />
                    </td>
                    <td><Value text={fmt(a.failedTasks5m, "", 0)} reason={m["failedTasks5m"]} /></td>
                    <td><Value text={fmtPercent(a.gcTimeRatio == null ? null : a.gcTimeRatio * 100)} reason={m["gcTimeRatio"]} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      )}
      {!showInferenceError && models.length > 0 && (
        <section className="table-card" data-testid="inference">
          <h2>Inference</h2>
          <table>
            <thead>
              <tr>
                <th>engine</th><th>model</th><th>node</th><th>running</th><th>waiting</th><th>tokens/s</th><th>prompt tokens/s</th>
                <th>TTFT p95</th><th>inter-token p95</th><th>KV cache</th>
              </tr>
            </thead>
            <tbody>
              {models.map((r) => {
                const m = r.missing ?? {};
                return (
                  <tr key={`${r.node}/${r.engine}/${r.modelName ?? ""}`} data-testid={`inference-${r.node}-${r.engine}`}>
                    <td>{r.engine}</td>
                    <td><Value text={r.modelName ?? DASH} reason={m["modelName"]} /></td>
                    <td>{r.node}</td>
                    <td><Value text={fmt(r.requestsRunning, "", 0)} reason={m["requestsRunning"]} /></td>
                    <td><Value text={fmt(r.requestsWaiting, "", 0)} reason={m["requestsWaiting"]} /></td>
                    <td><Value text={fmt(r.generationTokensPerSec, "", 0)} reason={m["generationTokensPerSec"]} /></td>
                    <td><Value text={fmt(r.promptTokensPerSec, "", 0)} reason={m["promptTokensPerSec"]} /></td>
                    <td><Value text={fmt(r.timeToFirstTokenP95Seconds == null ? null : r.timeToFirstTokenP95Seconds * 1000, " ms", 0)} reason={m["timeToFirstTokenP95Seconds"]} /></td>
                    <td><Value text={fmt(r.interTokenLatencyP95Seconds == null ? null : r.interTokenLatencyP95Seconds * 1000, " ms", 0)} reason={m["interTokenLatencyP95Seconds"]} /></td>
                    <td><Value text={fmtPercent(r.kvCacheUsage == null ? null : r.kvCacheUsage * 100)} reason={m["kvCacheUsage"]} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
