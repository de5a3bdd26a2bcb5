import { describe, expect, it } from "vitest";
import {
  DASH,
  fmt,
  fmtBytes,
  fmtLinkRate,
  fmtMiBAsGiB,
  fmtPercent,
  fmtRate,
  lowClockUnderLoad,
  rdmaStateBadge,
  throttleNames,
} from "../src/format";

describe("missing values", () => {
  it("null, undefined and NaN are a dash, never 0", () => {
    expect(fmt(null)).toBe(DASH);
    expect(fmt(undefined, " W")).toBe(DASH);
    expect(fmtPercent(Number.NaN)).toBe(DASH);
    expect(fmtRate(null)).toBe(DASH);
    expect(fmtMiBAsGiB(null)).toBe(DASH);
    expect(fmtBytes(null)).toBe(DASH);
  });
  it("a real 0 is shown as 0", () => {
    expect(fmtPercent(0)).toBe("0.0 %");
    expect(fmt(0, " W", 0)).toBe("0 W");
  });
});

describe("numbers", () => {
  it("percentages keep 0 decimals from 10 % up and 1 below", () => {
    expect(fmtPercent(42.46)).toBe("42 %");
    expect(fmtPercent(7.25)).toBe("7.3 %");
  });
  it("rates use decimal units", () => {
    expect(fmtRate(999)).toBe("999 B/s");
    expect(fmtRate(1_250_000)).toBe("1.3 MB/s");
    expect(fmtRate(12_500_000_000)).toBe("12.5 GB/s");
  });
  it("bytes use binary units, so a small non-zero figure never reads as 0.0 GiB", () => {
    expect(fmtBytes(1_258_291)).toBe("1.2 MiB");
    expect(fmtBytes(133_365_760)).toBe("127.2 MiB");
    expect(fmtBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(fmtBytes(512)).toBe("512 B");
  });
  it("MiB are shown as GiB", () => {
    expect(fmtMiBAsGiB(2048)).toBe("2.0 GiB");
  });
});

describe("low clocks under load", () => {
  it("names the held-down reasons in an NVML mask", () => {
    expect(throttleNames(0x4 | 0x80)).toEqual(["software power cap", "hardware power brake"]);
    expect(throttleNames(0x1)).toEqual([]);
  });
  it("flags a busy GPU held down by power, or far below normal clocks", () => {
    expect(lowClockUnderLoad(95, 2400, 0x80)).toContain("hardware power brake");
    expect(lowClockUnderLoad(95, 600, 0)).toContain("600 MHz");
  });
  it("does not flag an idle GPU or a busy one at full clocks", () => {
    expect(lowClockUnderLoad(5, 300, 0x4)).toBeNull();
    expect(lowClockUnderLoad(90, 2400, 0)).toBeNull();
    expect(lowClockUnderLoad(null, 300, 0x80)).toBeNull();
  });
});

describe("RDMA ports", () => {
  it("link rates are shown in Gb/s, a missing one as a dash", () => {
    expect(fmtLinkRate(25_000_000_000)).toBe("200 Gb/s");
    expect(fmtLinkRate(3_906_250_000)).toBe("31.3 Gb/s"); // 31.25 Gb/s
    expect(fmtLinkRate(null)).toBe(DASH);
  });
  it("only an active port has a badge that is not marked down; an unknown state has none", () => {
    expect(rdmaStateBadge("active")).toEqual({ text: "active", down: false });
    expect(rdmaStateBadge("down")).toEqual({ text: "down", down: true });
    expect(rdmaStateBadge("active_defer")).toEqual({ text: "active defer", down: true });
    expect(rdmaStateBadge(null)).toBeNull();
  });
});
