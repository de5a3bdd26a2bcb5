import { describe, expect, it } from "vitest";
import type { NodeGpuMetrics } from "../src/api/client";
import { unifiedMemoryBreakdown } from "../src/hooks";

function node(used: number | null, free: number | null, total: number | null, source = "unified"): NodeGpuMetrics {
  return { memoryUsedMB: used, memoryFreeMB: free, memoryTotalMB: total, memorySource: source } as NodeGpuMetrics;
}

describe("unified memory breakdown for the overview card", () => {
  it("sums what the GPUs hold, what is free and the rest over the nodes", () => {
    expect(unifiedMemoryBreakdown([node(10_000, 60_000, 120_000), node(20_000, 50_000, 120_000)])).toEqual({
      gpuMiB: 30_000, freeMiB: 110_000, otherMiB: 100_000, totalMiB: 240_000, nodes: 2,
    });
  });
  it("is null until every node has answered, so a partial sum never reads as the cluster's", () => {
    expect(unifiedMemoryBreakdown([node(10_000, 60_000, 120_000), undefined])).toBeNull();
  });
  it("is null when a figure is missing or a node has discrete GPU memory", () => {
    expect(unifiedMemoryBreakdown([node(null, 60_000, 120_000)])).toBeNull();
    expect(unifiedMemoryBreakdown([node(10_000, 60_000, 80_000, "nvml")])).toBeNull();
    expect(unifiedMemoryBreakdown([])).toBeNull();
  });
});
