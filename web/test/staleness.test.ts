import { describe, expect, it } from "vitest";
import { staleness } from "../src/api/client";

describe("staleness", () => {
  it("is derived from the X-Cache header, with the reason from a rollup's `stale` object", () => {
    expect(staleness("stale", { stale: { since: 1, reason: "Prometheus down" } })).toEqual({ stale: true, reason: "Prometheus down" });
  });
  it("reads the node GPU answer's `staleAnswer`, not its targets' boolean `stale`", () => {
    expect(staleness("stale", { stale: false, staleAnswer: { since: 1, reason: "deadline" } })).toEqual({ stale: true, reason: "deadline" });
    expect(staleness("hit", { stale: true })).toEqual({ stale: false, reason: null });
  });
  it("a fresh answer is never stale, whatever its body holds; a stale one without a reason has none", () => {
    expect(staleness("miss", { stale: { since: 1, reason: "x" } })).toEqual({ stale: false, reason: null });
    expect(staleness(null, {})).toEqual({ stale: false, reason: null });
    expect(staleness("stale", {})).toEqual({ stale: true, reason: null });
  });
});
