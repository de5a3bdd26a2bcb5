// React Query hooks over the JSON API, with the Command Center spec's polling: overview and node GPU
// every 5 s with a 3 s stale time, history every 60 s. A Command Center app wraps its tree in
// <ApiProvider> and calls these; the built-in page uses nothing else.
import { useQueries, useQuery, type UseQueryResult } from "@tanstack/react-query";
import { createContext, createElement, useContext, type ReactNode } from "react";
import {
  createApiClient,
  type ApiClient,
  type ApiError,
  type ClusterOverview,
  type HistoryDuration,
  type Inference,
  type SparkApplications,
  type NetworkStats,
  type NodeGpuMetrics,
  type NodeList,
  type UtilizationHistory,
} from "./api/client";

/** Polling interval and stale time per hook, in ms. */
export const POLLING = {
  overview: { refetchInterval: 5_000, staleTime: 3_000 },
  nodes: { refetchInterval: 5_000, staleTime: 3_000 },
  nodeGpu: { refetchInterval: 5_000, staleTime: 3_000 },
  network: { refetchInterval: 5_000, staleTime: 3_000 },
  history: { refetchInterval: 60_000, staleTime: 30_000 },
  spark: { refetchInterval: 5_000, staleTime: 3_000 },
  inference: { refetchInterval: 5_000, staleTime: 3_000 },
} as const;

const ApiContext = createContext<ApiClient | null>(null);

/** Supplies the API client to the hooks below. */
export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return createElement(ApiContext.Provider, { value: client }, children);
}

function useApi(): ApiClient {
  return useContext(ApiContext) ?? defaultClient;
}
const defaultClient = createApiClient();

/** Errors the API answered for good (4xx but 429) are not retried; the next poll tries again. */
function retry(failures: number, error: ApiError): boolean {
  return failures < 1 && (error.status === 0 || error.status === 429 || error.status >= 500);
}

/** The cluster overview (`GET /api/v1/cluster/overview`), polled every 5 s. */
export function useClusterOverview(): UseQueryResult<ClusterOverview, ApiError> {
  const api = useApi();
  return useQuery({ queryKey: ["overview"], queryFn: () => api.overview(), retry, ...POLLING.overview });
}

/** The node list with per-node summaries (`GET /api/v1/nodes`), polled every 5 s. */
export function useNodes(): UseQueryResult<NodeList, ApiError> {
  const api = useApi();
  return useQuery({ queryKey: ["nodes"], queryFn: () => api.nodes(), retry, ...POLLING.nodes });
}

/** One node's GPUs (`GET /api/v1/nodes/{node}/gpu`), polled every 5 s. */
export function useNodeGpuMetrics(node: string): UseQueryResult<NodeGpuMetrics, ApiError> {
  const api = useApi();
  return useQuery({
    queryKey: ["nodeGpu", node],
    queryFn: () => api.nodeGpu(node),
    enabled: node !== "",
    retry,
    ...POLLING.nodeGpu,
  });
}

/** GPU utilisation history of one node over 1h/6h/24h/7d, polled every 60 s. */
export function useGpuUtilizationHistory(
  node: string,
  duration: HistoryDuration,
): UseQueryResult<UtilizationHistory, ApiError> {
  const api = useApi();
  return useQuery({
    queryKey: ["history", node, duration],
    queryFn: () => api.gpuUtilizationHistory(node, duration),
    enabled: node !== "",
    retry,
    ...POLLING.history,
  });
}

/** Network throughput per node and interface (`GET /api/v1/network[?node=]`), polled every 5 s. */
export function useNetworkStats(node?: string): UseQueryResult<NetworkStats, ApiError> {
  const api = useApi();
  return useQuery({
    queryKey: ["network", node ?? ""],
    queryFn: () => api.network(node),
    retry,
    ...POLLING.network,
  });
}

/** Spark applications running, per application and cluster totals (`GET /api/v1/spark`), polled every 5 s. */
export function useSparkApplications(): UseQueryResult<SparkApplications, ApiError> {
  const api = useApi();
  return useQuery({ queryKey: ["spark"], queryFn: () => api.spark(), retry, ...POLLING.spark });
}

/** Inference per engine (vLLM, SGLang, llama.cpp), node and model, with cluster totals (`GET /api/v1/inference`), polled every 5 s. */
export function useInference(): UseQueryResult<Inference, ApiError> {
  const api = useApi();
  return useQuery({ queryKey: ["inference"], queryFn: () => api.inference(), retry, ...POLLING.inference });
}

/** Several nodes' GPUs at once (the same queries as {@link useNodeGpuMetrics}, so shared, not repeated). */
export function useNodesGpuMetrics(nodes: readonly string[]): UseQueryResult<NodeGpuMetrics, ApiError>[] {
  const api = useApi();
  return useQueries({
    queries: nodes.map((node) => ({
      queryKey: ["nodeGpu", node],
      queryFn: () => api.nodeGpu(node),
      retry,
      ...POLLING.nodeGpu,
    })),
  });
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
