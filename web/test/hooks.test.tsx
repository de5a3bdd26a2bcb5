import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, createApiClient } from "../src/api/client";
import {
  ApiProvider,
  POLLING,
  useClusterOverview,
  useGpuUtilizationHistory,
  useInference,
  useNetworkStats,
  useNodeGpuMetrics,
  useSparkApplications,
} from "../src/hooks";

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

/** A fetch that records the URLs asked for and answers from a queue (the last answer repeats). */
function fakeFetch(answers: Answer[]) {
  const calls: string[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, _init?: RequestInit) => {
    calls.push(String(input));
    const a = answers.length > 1 ? answers.shift()! : answers[0]!;
    return new Response(JSON.stringify(a.body), {
      status: a.status,
      headers: { "Content-Type": "application/json", ...(a.headers ?? {}) },
    });
  });
  return { fn, calls };
}

function wrapper(fetchFn: typeof fetch) {
  const client = createApiClient({ fetch: fetchFn });
  const qc = new QueryClient({ defaultOptions: { queries: { retryDelay: 1 } } });
  return ({ children }: { children: ReactNode }) => (
    <ApiProvider client={client}>
      <QueryClientProvider client={qc}>{children}</QueryClientProvider>
    </ApiProvider>
  );
}

const overview = { gpuUtilization: 42.5, memoryUsedGB: 10, missing: {}, activeJobs: null, powerDrawW: 30 };

describe("polling intervals", () => {
  beforeEach(() => vi.useFakeTimers({ shouldAdvanceTime: true }));
  afterEach(() => vi.useRealTimers());

  it("useClusterOverview polls every 5 s and not sooner", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: overview }]);
    const { result } = renderHook(() => useClusterOverview(), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.data?.gpuUtilization).toBe(42.5));
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(4_000); });
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(1_100); });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe("/api/v1/cluster/overview");
  });

  it("useNodeGpuMetrics polls the node's endpoint every 5 s, escaping the node name", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { node: "a b", gpus: [], missing: {} } }]);
    const { result } = renderHook(() => useNodeGpuMetrics("a b"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    await act(async () => { await vi.advanceTimersByTimeAsync(5_100); });
    expect(calls).toEqual(["/api/v1/nodes/a%20b/gpu", "/api/v1/nodes/a%20b/gpu"]);
  });

  it("useGpuUtilizationHistory polls every 60 s with the envelope and duration", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { series: [], missing: {}, step: 15 } }]);
    const { result } = renderHook(() => useGpuUtilizationHistory("spark-01", "6h"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    await act(async () => { await vi.advanceTimersByTimeAsync(30_000); });
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(30_100); });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe("/api/v1/nodes/spark-01/gpu/utilization?duration=6h&envelope=1");
  });

  it("useNetworkStats passes the node as a query parameter", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { nodes: [], interfaces: [], missing: {} } }]);
    const { result } = renderHook(() => useNetworkStats("spark-02"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(calls[0]).toBe("/api/v1/network?node=spark-02");
  });
});

describe("stale times", () => {
  it("declares the spec's stale times: 3 s for live figures, longer for history", () => {
    expect(POLLING.overview).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
    expect(POLLING.nodeGpu).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
    expect(POLLING.history.refetchInterval).toBe(60_000);
  });

  it("a second component mounted within the stale time reuses the data without a fetch", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: overview }]);
    const w = wrapper(fn);
    const first = renderHook(() => useClusterOverview(), { wrapper: w });
    await waitFor(() => expect(first.result.current.isSuccess).toBe(true));
    const { result } = renderHook(() => useClusterOverview(), { wrapper: w });
    expect(result.current.data?.gpuUtilization).toBe(42.5);
    expect(calls).toHaveLength(1);
  });
});

describe("error states", () => {
  it("a 503 JSON error becomes an ApiError with the API's message, marked unavailable", async () => {
    const { fn } = fakeFetch([
      { status: 503, body: { status: "error", errorType: "prometheus_unavailable", error: "Prometheus is down" } },
    ]);
    const { result } = renderHook(() => useClusterOverview(), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isError).toBe(true), { timeout: 3000 });
    const err = result.current.error as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe("Prometheus is down");
    expect(err.errorType).toBe("prometheus_unavailable");
    expect(err.unavailable).toBe(true);
  });

  it("a 404 for an unknown node is not retried and keeps its errorType", async () => {
    const { fn, calls } = fakeFetch([
      { status: 404, body: { status: "error", errorType: "unknown_node", error: "unknown node 'x'" } },
    ]);
    const { result } = renderHook(() => useNodeGpuMetrics("x"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error?.status).toBe(404);
    expect(calls).toHaveLength(1);
  });

  it("keeps the last data when a later poll fails", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { fn } = fakeFetch([
        { status: 200, body: overview },
        { status: 503, body: { status: "error", errorType: "prometheus_unavailable", error: "down" } },
      ]);
      const { result } = renderHook(() => useClusterOverview(), { wrapper: wrapper(fn) });
      await waitFor(() => expect(result.current.isSuccess).toBe(true));
      await act(async () => { await vi.advanceTimersByTimeAsync(5_100); });
      await waitFor(() => expect(result.current.error?.status).toBe(503));
      expect(result.current.data?.gpuUtilization).toBe(42.5);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a network failure is an ApiError with status 0", async () => {
    const fn = vi.fn(async () => { throw new TypeError("Failed to fetch"); });
    const client = createApiClient({ fetch: fn as unknown as typeof fetch });
    await expect(client.overview()).rejects.toMatchObject({ status: 0, errorType: "network" });
  });

  it("sends the bearer token when one is set", async () => {
    const { fn } = fakeFetch([{ status: 200, body: overview }]);
    const client = createApiClient({ fetch: fn, token: () => "s3cret" });
    await client.overview();
    const init = fn.mock.calls[0]![1]!;
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer s3cret");
  });
});

describe("workload hooks", () => {
  it("useSparkApplications and useInference read their endpoints", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { applications: [], models: [], missing: {} } }]);
    const w = wrapper(fn);
    const spark = renderHook(() => useSparkApplications(), { wrapper: w });
    const inference = renderHook(() => useInference(), { wrapper: w });
    await waitFor(() => expect(spark.result.current.isSuccess && inference.result.current.isSuccess).toBe(true));
    expect(calls.sort()).toEqual(["/api/v1/inference", "/api/v1/spark"]);
    expect(POLLING.spark).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
  });
});
