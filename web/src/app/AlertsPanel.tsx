import { useEffect, useState } from "react";
import type { Alert } from "../api/client";
import { DASH, fmtAgo, fmtClock } from "../format";
import { useAlerts, useOutage } from "../hooks";
import { Skeleton } from "./Value";

function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** The runbook as a link only when it is an absolute http(s) URL: a relative `runbook_url` names a file beside the
 * rules, not a page this server has, so it is shown as text instead. */
export function runbookHref(url: string | null | undefined): string | null {
  return url && /^https?:\/\//i.test(url) ? url : null;
}

function AlertRow({ a, now }: { a: Alert; now: number }) {
  const where = [a.node, a.gpu != null ? `GPU ${a.gpu}` : null].filter(Boolean).join(" · ") || "cluster";
  return (
    <tr data-testid={`alert-${a.name}`} data-state={a.state} data-severity={a.severity ?? ""}>
      <td>
        <span className={`badge sev-${a.severity ?? "none"}`}>{a.severity ?? "—"}</span>
      </td>
      <td>
        {runbookHref(a.runbookUrl) ? (
          <a href={runbookHref(a.runbookUrl)!} target="_blank" rel="noopener noreferrer" title="runbook">
            {a.name}
          </a>
        ) : (
          a.name
        )}
        {a.runbookUrl && !runbookHref(a.runbookUrl) && (
          <span className="runbook-path" title="runbook (a path relative to the rules' source, not to this page)">
            {" "}runbook: {a.runbookUrl}
          </span>
        )}
        {a.state === "pending" && <span className="badge pending">pending</span>}
      </td>
      <td>{where}</td>
      <td title={a.since != null ? new Date(a.since * 1000).toISOString() : "not reported"}>
        {a.since != null ? `${fmtClock(a.since)} (${fmtAgo(a.since, now)})` : DASH}
      </td>
      <td className="wrap">{a.summary ?? DASH}</td>
    </tr>
  );
}

/** Firing and pending alerts, most severe first (the API's order), each linking to its runbook when it has one.
 * In a Prometheus outage the banner says so once and this panel shows the last list it had, or a dash. */
export function AlertsPanel({ outage }: { outage: boolean }) {
  const q = useAlerts();
  const error = useOutage(q);
  const now = useNow(10_000);
  const doc = q.data?.body;
  return (
    <section className="table-card alerts" data-testid="alerts-panel" aria-label="Alerts">
      <h2>
        Alerts{" "}
        {doc && (
          <span className="count">
            {doc.firing} firing · {doc.pending} pending
          </span>
        )}
      </h2>
      {!doc && !error && q.isPending && <Skeleton lines={1} />}
      {!doc && error && <div className={outage ? "missing" : "error-inline"}>{outage ? DASH : `Cannot read alerts: ${error.message}`}</div>}
      {doc && !outage && error && <div className="error-inline">Cannot read alerts: {error.message} (showing the last list)</div>}
      {doc && doc.alerts.length === 0 && <div className="quiet" data-testid="no-alerts">No alert is firing or pending.</div>}
      {doc && doc.alerts.length > 0 && (
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">severity</th>
                <th scope="col">alert</th>
                <th scope="col">where</th>
                <th scope="col">since</th>
                <th scope="col">summary</th>
              </tr>
            </thead>
            <tbody>
              {doc.alerts.map((a, i) => (
                <AlertRow key={`${a.name}/${a.node ?? ""}/${a.gpu ?? ""}/${i}`} a={a} now={now} />
              ))}
            </tbody>
          </table>
          {doc.truncated && <div className="quiet">More alerts are active than listed here.</div>}
        </div>
      )}
    </section>
  );
}
