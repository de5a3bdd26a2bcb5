import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, useEffect, useMemo, useState, type ReactNode } from "react";
import { createApiClient, staleness } from "../api/client";
import { ApiProvider, useClusterOverview, useNetworkStats, useNodes } from "../hooks";
import { Cards } from "./Cards";
import { NodePanel } from "./NodePanel";
import { Workloads } from "./Workloads";

const TOKEN_KEY = "spark-exporter.token";

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Banner when Prometheus is unreachable or answers are served stale; the last data stays below it. */
function Banner() {
  const { data, error } = useClusterOverview();
  const st = staleness(data);
  if (error && (error.unavailable || error.status === 0)) {
    return (
      <div className="banner" role="alert" data-testid="banner">
        Telemetry unavailable: {error.message}
        {data ? " (showing the last data received)" : ""}
      </div>
    );
  }
  if (st.stale) {
    return (
      <div className="banner" role="alert" data-testid="banner">
        Prometheus is not answering; showing cached figures{st.reason ? `: ${st.reason}` : ""}
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

function Nodes({ only }: { only: string | null }) {
  const nodes = useNodes();
  const network = useNetworkStats();
  if (only) {
    return (
      <div className="nodes">
        <NodePanel node={only} summary={(nodes.data?.nodes ?? []).find((n) => n.node === only)} network={network.data} />
      </div>
    );
  }
  if (nodes.isPending) return <div className="nodes"><section className="node"><div className="skeleton-line" /></section></div>;
  if (!nodes.data) return <div className="error-inline">{nodes.error?.message ?? "no nodes"}</div>;
  return (
    <div className="nodes">
      {(nodes.data.nodes ?? []).filter((n) => n.node).map((n) => (
        <NodePanel key={n.node} node={n.node!} summary={n} network={network.data} />
      ))}
    </div>
  );
}

function nodeFromHash(): string | null {
  const m = /^#\/?node\/(.+)$/.exec(window.location.hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

function Page({ onUnauthorized }: { onUnauthorized: (msg: string) => void }) {
  const overview = useClusterOverview();
  const [only, setOnly] = useState<string | null>(nodeFromHash());
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
        <span className="cluster">{overview.data?.cluster ?? ""}</span>
      </header>
      <Banner />
      <Cards />
      {!only && <Workloads />}
      <Nodes only={only} />
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
