import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, createApiClient } from "../src/api/client";
import {
  ApiProvider,
  POLLING,
  useAlerts,
  useClusterOverview,
  useGpuHistory,
  useInference,
  useOutage,
  useSnapshot,
  useSparkApplications,
} from "../src/hooks";

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

const BASE = "http://api.test";

/** A fetch that records the paths asked for (with the query) and answers from a queue (the last answer repeats). */
function fakeFetch(answers: Answer[]) {
  const calls: string[] = [];
  const requests: Request[] = [];
  const fn = vi.fn(async (req: Request) => {
    requests.push(req);
    const u = new URL(req.url);
    calls.push(u.pathname + u.search);
    const a = answers.length > 1 ? answers.shift()! : answers[0]!;
    return new Response(JSON.stringify(a.body), {
      status: a.status,
      headers: { "Content-Type": "application/json", ...(a.headers ?? {}) },
    });
  });
  return { fn, calls, requests };
}

function wrapper(fetchFn: (req: Request) => Promise<Response>) {
  const client = createApiClient({ baseUrl: BASE, fetch: fetchFn });
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
    await waitFor(() => expect(result.current.data?.body.gpuUtilization).toBe(42.5));
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(4_000); });
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(1_100); });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe("/api/v1/cluster/overview");
  });

  it("useGpuHistory polls every 60 s with the envelope and duration, one path per metric", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { series: [], missing: {}, step: 15 } }]);
    const { result } = renderHook(() => useGpuHistory("spark-01", "utilization", "6h"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    await act(async () => { await vi.advanceTimersByTimeAsync(30_000); });
    expect(calls).toHaveLength(1);
    await act(async () => { await vi.advanceTimersByTimeAsync(30_100); });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe("/api/v1/nodes/spark-01/gpu/utilization?duration=6h&envelope=true");
    const temp = renderHook(() => useGpuHistory("spark-01", "temperature", "1h"), { wrapper: wrapper(fn) });
    await waitFor(() => expect(temp.result.current.isSuccess).toBe(true));
    expect(calls.at(-1)).toBe("/api/v1/nodes/spark-01/gpu/temperature?duration=1h&envelope=true");
  });
});

/** Answers by path: the overview at instant 1000.5, the nodes and each node's GPUs at whatever time was asked. */
function snapshotFetch(nodes: string[]) {
  const calls: string[] = [];
  const fn = vi.fn(async (req: Request) => {
    const u = new URL(req.url);
    calls.push(u.pathname + u.search);
    const time = Number(u.searchParams.get("time"));
    let body: unknown;
    if (u.pathname === "/api/v1/cluster/overview") body = { evaluatedAt: 1000.5, powerDrawW: 30, missing: {} };
    else if (u.pathname === "/api/v1/nodes") body = { evaluatedAt: time, nodes: nodes.map((node) => ({ node, missing: {} })), missing: {} };
    else if (u.pathname === "/api/v1/network") body = { evaluatedAt: time, nodes: [], interfaces: [], rdmaPorts: [], missing: {} };
    else body = { evaluatedAt: time, node: decodeURIComponent(u.pathname.split("/")[4]!), powerDraw: 15, gpus: [], missing: {} };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  });
  return { fn, calls };
}

describe("one snapshot", () => {
  it("asks the node endpoints for the overview's instant and returns them together", async () => {
    const { fn, calls } = snapshotFetch(["a b", "c"]);
    const { result } = renderHook(() => useSnapshot(null), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.snapshot).not.toBeNull());
    const snap = result.current.snapshot!;
    expect(snap.time).toBe(1000.5);
    expect([...snap.gpus.keys()]).toEqual(["a b", "c"]);
    expect(calls).toContain("/api/v1/nodes?time=1000.5");
    expect(calls).toContain("/api/v1/nodes/a%20b/gpu?time=1000.5");
    expect(calls).toContain("/api/v1/network?time=1000.5");
  });

  it("a fleet above the panel limit asks no node's GPUs", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const { fn, calls } = snapshotFetch(names);
    const { result } = renderHook(() => useSnapshot(null), { wrapper: wrapper(fn) });
    await waitFor(() => expect(result.current.snapshot).not.toBeNull());
    expect(result.current.snapshot!.gpus.size).toBe(0);
    expect(calls.filter((c) => c.endsWith("/gpu?time=1000.5"))).toEqual([]);
  });
});

describe("stale times", () => {
  it("declares the spec's stale times: 3 s for live figures, longer for history", () => {
    expect(POLLING.overview).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
    expect(POLLING.alerts).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
    expect(POLLING.history.refetchInterval).toBe(60_000);
  });

  it("a second component mounted within the stale time reuses the data without a fetch", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: overview }]);
    const w = wrapper(fn);
    const first = renderHook(() => useClusterOverview(), { wrapper: w });
    await waitFor(() => expect(first.result.current.isSuccess).toBe(true));
    const { result } = renderHook(() => useClusterOverview(), { wrapper: w });
    expect(result.current.data?.body.gpuUtilization).toBe(42.5);
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
    const { result } = renderHook(() => useGpuHistory("x", "power", "1h"), { wrapper: wrapper(fn) });
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
      expect(result.current.data?.body.gpuUtilization).toBe(42.5);
    } finally {
      vi.useRealTimers();
    }
  });

  it("an outage from the start stays stated through refetches (React Query clears `error` while refetching)", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { fn } = fakeFetch([
        { status: 503, body: { status: "error", errorType: "prometheus_unavailable", error: "down" } },
      ]);
      const seen: (string | null)[] = [];
      const { result } = renderHook(
        () => {
          const q = useClusterOverview();
          const outage = useOutage(q);
          seen.push(outage?.message ?? null);
          return outage;
        },
        { wrapper: wrapper(fn) },
      );
      await waitFor(() => expect(result.current?.message).toBe("down"), { timeout: 3000 });
      const first = seen.indexOf("down");
      await act(async () => { await vi.advanceTimersByTimeAsync(16_000); }); // three polls, each failing
      expect(fn.mock.calls.length).toBeGreaterThanOrEqual(4);
      expect(seen.slice(first).every((m) => m === "down")).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a network failure is an ApiError with status 0", async () => {
    const fn = vi.fn(async () => { throw new TypeError("Failed to fetch"); });
    const client = createApiClient({ baseUrl: BASE, fetch: fn as unknown as (r: Request) => Promise<Response> });
    await expect(client.overview()).rejects.toMatchObject({ status: 0, errorType: "network" });
  });

  it("sends the bearer token when one is set", async () => {
    const { fn } = fakeFetch([{ status: 200, body: overview }]);
    const client = createApiClient({ baseUrl: BASE, fetch: fn, token: () => "s3cret" });
    await client.overview();
    expect(fn.mock.calls[0]![0].headers.get("Authorization")).toBe("Bearer s3cret");
  });
});

describe("workload hooks", () => {
  it("useSparkApplications, useInference and useAlerts read their endpoints", async () => {
    const { fn, calls } = fakeFetch([{ status: 200, body: { applications: [], models: [], alerts: [], missing: {} } }]);
    const w = wrapper(fn);
    const spark = renderHook(() => useSparkApplications(), { wrapper: w });
    const inference = renderHook(() => useInference(), { wrapper: w });
    const alerts = renderHook(() => useAlerts(), { wrapper: w });
    await waitFor(() =>
      expect(spark.result.current.isSuccess && inference.result.current.isSuccess && alerts.result.current.isSuccess).toBe(true),
    );
    expect(calls.sort()).toEqual(["/api/v1/alerts", "/api/v1/inference", "/api/v1/spark"]);
    expect(POLLING.spark).toEqual({ refetchInterval: 5_000, staleTime: 3_000 });
  });
});
