// React Query hooks over the JSON API. One generic hook (`useApiQuery`) owns polling, stale times and
// retries; the page's live figures come from `useSnapshot`, which asks every node endpoint for the
// overview's own evaluation instant, so the cards and the node panels never mix two instants.
// A Command Center app wraps its tree in <ApiProvider> and calls these; the built-in page uses nothing else.
import { useQueries, useQuery, type UseQueryResult } from "@tanstack/react-query";
import { createContext, createElement, useContext, useRef, type ReactNode } from "react";
import {
  createApiClient,
  type Alerts,
  type Answer,
  type ApiClient,
  type ApiError,
  type ClusterOverview,
  type HistoryDuration,
  type HistoryMetric,
  type Inference,
  type NetworkStats,
  type NodeGpuMetrics,
  type NodeList,
  type SparkApplications,
  type UtilizationHistory,
} from "./api/client";

/** Polling interval and stale time per kind of answer, in ms. */
export const POLLING = {
  overview: { refetchInterval: 5_000, staleTime: 3_000 },
  history: { refetchInterval: 60_000, staleTime: 30_000 },
  spark: { refetchInterval: 5_000, staleTime: 3_000 },
  inference: { refetchInterval: 5_000, staleTime: 3_000 },
  alerts: { refetchInterval: 5_000, staleTime: 3_000 },
} as const;

/** Above this many nodes the page lists them in a compact table (panel on demand) instead of one panel each. */
export const PANEL_LIMIT = 8;

const ApiContext = createContext<ApiClient | null>(null);

/** Supplies the API client to the hooks below. */
export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return createElement(ApiContext.Provider, { value: client }, children);
}

export function useApi(): ApiClient {
  return useContext(ApiContext) ?? defaultClient;
}
const defaultClient = createApiClient();

/** Errors the API answered for good (4xx but 429) are not retried; the next poll tries again. */
function retry(failures: number, error: ApiError): boolean {
  return failures < 1 && (error.status === 0 || error.status === 429 || error.status >= 500);
}

export type ApiQuery<T> = UseQueryResult<Answer<T>, ApiError>;

/** The one query hook: `call` polled every `polling.refetchInterval` ms, fresh for `polling.staleTime` ms. */
export function useApiQuery<T>(
  key: readonly unknown[],
  call: (api: ApiClient) => Promise<Answer<T>>,
  polling: { refetchInterval: number | false; staleTime: number },
  enabled = true,
): ApiQuery<T> {
  const api = useApi();
  return useQuery({ queryKey: key, queryFn: () => call(api), retry, enabled, ...polling });
}

/** The error of a query while it is in an outage: set by a failure, kept (unlike React Query's `error`, which a
 * refetch of a query without data resets) until the next success. So the page states an outage steadily. */
export function useOutage<T>(q: ApiQuery<T>): ApiError | null {
  const last = useRef<ApiError | null>(null);
  if (q.error) last.current = q.error;
  if (q.dataUpdatedAt > q.errorUpdatedAt) last.current = null;
  return q.errorUpdatedAt > q.dataUpdatedAt ? last.current : null;
}

/** The cluster overview (`GET /api/v1/cluster/overview`), polled every 5 s. */
export function useClusterOverview(): ApiQuery<ClusterOverview> {
  return useApiQuery(["overview"], (api) => api.overview(), POLLING.overview);
}

/** One history of one node (utilization, temperature, power or memory) over 1h/6h/24h/7d, polled every 60 s. */
export function useGpuHistory(node: string, metric: HistoryMetric, duration: HistoryDuration): ApiQuery<UtilizationHistory> {
  return useApiQuery(["history", node, metric, duration], (api) => api.history(node, metric, duration), POLLING.history, node !== "");
}

/** Spark applications running, per application and cluster totals (`GET /api/v1/spark`), polled every 5 s. */
export function useSparkApplications(): ApiQuery<SparkApplications> {
  return useApiQuery(["spark"], (api) => api.spark(), POLLING.spark);
}

/** Inference per engine (vLLM, SGLang, llama.cpp), node and model, with cluster totals (`GET /api/v1/inference`), polled every 5 s. */
export function useInference(): ApiQuery<Inference> {
  return useApiQuery(["inference"], (api) => api.inference(), POLLING.inference);
}

/** Firing and pending alerts, most severe first (`GET /api/v1/alerts`), polled every 5 s. */
export function useAlerts(): ApiQuery<Alerts> {
  return useApiQuery(["alerts"], (api) => api.alerts(), POLLING.alerts);
}

/** Everything the cards and node panels show, from one evaluation instant. */
export interface Snapshot {
  /** The instant, s since epoch (the overview's `evaluatedAt`). */
  time: number;
  overview: Answer<ClusterOverview>;
  nodes: Answer<NodeList> | ApiError;
  network: Answer<NetworkStats> | ApiError;
  /** Per node shown as a panel: its GPU answer at `time`, or the error it got. Empty for a fleet (> PANEL_LIMIT). */
  gpus: Map<string, Answer<NodeGpuMetrics> | ApiError>;
}

const AT_INSTANT = { refetchInterval: false, staleTime: Infinity } as const; // one instant's answer never changes

/** The page's snapshot: the overview polled every 5 s, then the node list, the network and (up to PANEL_LIMIT
 * nodes, or `only`) each node's GPUs asked for the overview's `evaluatedAt`. Returns the newest snapshot whose
 * answers have all arrived (an error counts as arrived), so a frame never mixes two instants; null until one has. */
export function useSnapshot(only: string | null): { snapshot: Snapshot | null; overview: ApiQuery<ClusterOverview> } {
  const api = useApi();
  const overview = useClusterOverview();
  const time = overview.data?.body.evaluatedAt ?? null;
  const on = time != null;
  const nodes = useApiQuery(["nodes", time], (api) => api.nodes(time ?? undefined), AT_INSTANT, on);
  const network = useApiQuery(["network", "", time], (api) => api.network(undefined, time ?? undefined), AT_INSTANT, on);
  const names = only
    ? [only]
    : (nodes.data?.body.nodes ?? []).length > PANEL_LIMIT
      ? []
      : (nodes.data?.body.nodes ?? []).map((n) => n.node);
  const gpus = useQueries({
    queries: names.map((node) => ({
      queryKey: ["nodeGpu", node, time],
      queryFn: () => api.nodeGpu(node, time ?? undefined),
      enabled: on && (only != null || nodes.isSuccess),
      retry,
      ...AT_INSTANT,
    })),
  });
  const last = useRef<Snapshot | null>(null);
  const settled = (q: { isSuccess: boolean; isError: boolean }) => q.isSuccess || q.isError;
  const ready =
    on && overview.data && settled(nodes) && settled(network) && (only != null || nodes.isError || gpus.every(settled));
  if (ready && time !== last.current?.time) {
    const byNode = new Map<string, Answer<NodeGpuMetrics> | ApiError>();
    names.forEach((n, i) => {
      const q = gpus[i]!;
      if (q.data) byNode.set(n, q.data);
      else if (q.error) byNode.set(n, q.error as ApiError);
    });
    if (!only || byNode.has(only)) {
      last.current = {
        time,
        overview: overview.data!,
        nodes: nodes.data ?? nodes.error!,
        network: network.data ?? network.error!,
        gpus: byNode,
      };
    }
  }
  return { snapshot: last.current, overview };
}

/** How the cluster's unified memory splits, summed over the nodes whose GPUs share host memory (GB10):
 * what the GPUs hold, what is free, and the rest (CPU side, OS, caches). MiB; null until every such node
 * has answered with all three figures. */
export interface MemoryBreakdown {
  gpuMiB: number;
  freeMiB: number;
  otherMiB: number;
  totalMiB: number;
  nodes: number;
}

export function unifiedMemoryBreakdown(answers: readonly (NodeGpuMetrics | undefined)[]): MemoryBreakdown | null {
  const unified = answers.filter((a): a is NodeGpuMetrics => a !== undefined && a.memorySource === "unified");
  if (unified.length === 0 || unified.length !== answers.length) return null;
  let gpu = 0;
  let free = 0;
  let total = 0;
  for (const a of unified) {
    if (a.memoryUsedMB == null || a.memoryFreeMB == null || a.memoryTotalMB == null) return null;
    gpu += a.memoryUsedMB;
    free += a.memoryFreeMB;
    total += a.memoryTotalMB;
  }
  return { gpuMiB: gpu, freeMiB: free, otherMiB: Math.max(0, total - gpu - free), totalMiB: total, nodes: unified.length };
}
