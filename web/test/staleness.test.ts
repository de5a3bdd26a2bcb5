import { describe, expect, it } from "vitest";
import { staleness } from "../src/api/client";

describe("staleness", () => {
  it("reads the API's marker and its reason from a rollup's `stale` object", () => {
    expect(staleness({ stale: { since: 1, reason: "Prometheus down" } })).toEqual({ stale: true, reason: "Prometheus down" });
  });
  it("reads the node GPU answer's `staleAnswer`, not its targets' boolean `stale`", () => {
    expect(staleness({ stale: false, staleAnswer: { since: 1, reason: "deadline" } })).toEqual({ stale: true, reason: "deadline" });
    expect(staleness({ stale: true })).toEqual({ stale: false, reason: null });
  });
  it("falls back to the X-Cache header's mark", () => {
    expect(staleness({ __stale: true })).toEqual({ stale: true, reason: null });
    expect(staleness({})).toEqual({ stale: false, reason: null });
  });
});
