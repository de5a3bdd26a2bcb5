import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, createApiClient, type ClusterOverview, type NetworkStats } from "../api/client";
import { fmt, fmtClock, fmtPercent } from "../format";
import { ApiProvider, PANEL_LIMIT, useOutage, useSnapshot, type ApiQuery, type Snapshot } from "../hooks";
import { AlertsPanel } from "./AlertsPanel";
import { Cards } from "./Cards";
import { NodePanel, type NodeSummary } from "./NodePanel";
import { Value } from "./Value";
import { Workloads } from "./Workloads";

const TOKEN_KEY = "spark-exporter.token";

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The one place an outage is stated: Prometheus (or the API) unreachable, or answers served stale from the
 * API's cache. It names the last instant the page has figures for; the figures below stay or show dashes. */
function Banner({ overview, outage, snapshot }: { overview: ApiQuery<ClusterOverview>; outage: ApiError | null; snapshot: Snapshot | null }) {
  const last = snapshot ? `showing the figures as of ${fmtClock(snapshot.time)}` : "no figures received yet";
  if (outage && outage.status !== 401) {
    return (
      <div className="banner" role="alert" data-testid="banner">
        Telemetry unavailable: {outage.message} ({last})
      </div>
    );
  }
  const st = overview.data?.staleness;
  if (st?.stale) {
    return (
      <div className="banner" role="alert" data-testid="banner">
        Prometheus is not answering; showing cached figures{st.reason ? `: ${st.reason}` : ""} ({last})
      </div>
    );
  }
  return null;
}

function TokenForm({ onToken, message }: { onToken: (t: string) => void; message: string }) {
  const [value, setValue] = useState("");
  return (
    <form
      className="token"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) onToken(value.trim());
      }}
    >
      <h1>DGX Spark Command Center</h1>
      <p>{message}</p>
      <input
        type="password"
        aria-label="API bearer token"
        placeholder="API bearer token"
        autoFocus
        autoComplete="off"
        value={value}
        onChange={(e) => setValue(e.target.value)}
      />
      <button type="submit">Use token</button>
    </form>
  );
}

/** A fleet (more than PANEL_LIMIT nodes) on one screen: one small tile per node with its name, state, GPU
 * utilisation, hottest GPU and power; the name opens that node's panel (`#/node/NAME`). */
function NodeTiles({ nodes, time }: { nodes: NodeSummary[]; time: number }) {
  return (
    <section className="table-card fleet" data-testid="node-table" data-time={time} aria-label="Nodes">
      <h2>Nodes ({nodes.length})</h2>
      <ul className="tiles">
        {nodes.map((n) => {
          const m = n.missing ?? {};
          const state = n.up == null ? "unknown" : n.up === false ? "down" : n.stale ? "stale" : "up";
          return (
            <li key={n.node} data-testid={`row-${n.node}`} className={`tile ${state}`} title={`${n.node}: ${state}`}>
              <a href={`#/node/${encodeURIComponent(n.node)}`}>{n.node}</a>
              {state !== "up" && <span className={`badge ${state}`}>{state}</span>}
              <span className="tile-figures">
                <Value text={fmtPercent(n.utilization)} reason={m["utilization"]} /> ·{" "}
                <Value text={fmt(n.temperature, " °C", 0)} reason={m["temperature"]} /> ·{" "}
                <Value testId={`row-power-${n.node}`} text={fmt(n.powerDraw, " W", 0)} reason={m["powerDraw"]} />
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** The node panels of one snapshot (or, for a fleet, the node tiles); `#/node/NAME` shows that node alone. */
function Nodes({ only, snapshot, outage }: { only: string | null; snapshot: Snapshot | null; outage: ApiError | null }) {
  if (!snapshot) {
    return (
      <div className="nodes">
        {only ? (
          <NodePanel node={only} dashes={outage != null} />
        ) : outage ? null : (
          <section className="node" aria-label="nodes loading">
            <div className="skeleton-line" />
          </section>
        )}
      </div>
    );
  }
  const list = snapshot.nodes instanceof ApiError ? null : snapshot.nodes.body.nodes ?? [];
  const network: NetworkStats | undefined = snapshot.network instanceof ApiError ? undefined : snapshot.network.body;
  if (only) {
    return (
      <div className="nodes">
        <NodePanel
          node={only}
          summary={list?.find((n) => n.node === only)}
          network={network}
          gpu={snapshot.gpus.get(only)}
          time={snapshot.time}
        />
      </div>
    );
  }
  if (list == null) return <div className="error-inline">{(snapshot.nodes as ApiError).message}</div>;
  const named = list.filter((n) => n.node);
  if (named.length > PANEL_LIMIT) return <NodeTiles nodes={named} time={snapshot.time} />;
  return (
    <div className="nodes">
      {named.map((n) => (
        <NodePanel key={n.node} node={n.node} summary={n} network={network} gpu={snapshot.gpus.get(n.node)} time={snapshot.time} />
      ))}
    </div>
  );
}

function nodeFromHash(): string | null {
  const m = /^#\/?node\/(.+)$/.exec(window.location.hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

function Page({ onUnauthorized }: { onUnauthorized: (msg: string) => void }) {
  const [only, setOnly] = useState<string | null>(nodeFromHash());
  const { snapshot, overview } = useSnapshot(only);
  const outage = useOutage(overview);
  useEffect(() => {
    const f = () => setOnly(nodeFromHash());
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  useEffect(() => {
    if (overview.error?.status === 401) onUnauthorized(overview.error.message);
  }, [overview.error, onUnauthorized]);
  return (
    <>
      <header>
        <h1>
          <a href="#">DGX Spark Command Center</a>
        </h1>
        <span className="cluster">{snapshot?.overview.body.cluster ?? ""}</span>
        <span className="as-of" data-testid="as-of" data-time={snapshot?.time ?? ""}>
          {snapshot ? `as of ${fmtClock(snapshot.time)}` : ""}
        </span>
      </header>
      <main>
        <Banner overview={overview} outage={outage} snapshot={snapshot} />
        <Cards snapshot={snapshot} outage={outage} />
        {!only && <AlertsPanel outage={outage != null} />}
        {!only && <Workloads outage={outage != null} />}
        <Nodes only={only} snapshot={snapshot} outage={outage} />
      </main>
    </>
  );
}

class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <div className="banner" role="alert">
          The page failed: {this.state.error.message}. <button onClick={() => location.reload()}>Reload</button>
        </div>
      );
    }
    return this.props.children;
  }
}

/** The built-in live page. It talks to the API at its own origin (or `?api=URL`). */
export function App() {
  const [token, setToken] = useState<string | null>(readToken());
  const [askToken, setAskToken] = useState<string | null>(null);
  const baseUrl = new URLSearchParams(window.location.search).get("api") ?? "";
  const client = useMemo(() => createApiClient({ baseUrl, token: () => token }), [baseUrl, token]);
  const queryClient = useMemo(() => new QueryClient(), [token]); // eslint-disable-line react-hooks/exhaustive-deps
  if (askToken !== null) {
    return (
      <TokenForm
        message={token ? "The API refused the token." : "This API requires a bearer token."}
        onToken={(t) => {
          try {
            sessionStorage.setItem(TOKEN_KEY, t);
          } catch {
            // private mode: keep it in memory only
          }
          setToken(t);
          setAskToken(null);
        }}
      />
    );
  }
  return (
    <ErrorBoundary>
      <ApiProvider client={client}>
        <QueryClientProvider client={queryClient}>
          <Page onUnauthorized={setAskToken} />
        </QueryClientProvider>
      </ApiProvider>
    </ErrorBoundary>
  );
}
