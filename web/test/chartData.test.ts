import { describe, expect, it } from "vitest";
import { alignHistory, historyWindow } from "../src/app/chartData";

const pt = (seconds: number, value: number | null) => ({ timestamp: seconds * 1000, value });

describe("alignHistory", () => {
  it("puts each series' samples at their own timestamps, with null where a series has none", () => {
    const cols = alignHistory([
      { metric: { gpu: "0" }, values: [pt(60, 10), pt(120, 20)] },
      { metric: { gpu: "1" }, values: [pt(0, 5), pt(120, 7)] },
    ]);
    expect(cols).toEqual([
      [0, 60, 120],
      [null, 10, 20],
      [5, null, 7],
    ]);
  });
  it("keeps a missing sample as a gap (null), never 0", () => {
    expect(alignHistory([{ metric: {}, values: [pt(0, null), pt(30, 42)] }])).toEqual([[0, 30], [null, 42]]);
  });
});

describe("historyWindow", () => {
  it("spans the whole window the API queried, however little data there is", () => {
    const start = 1_000_000;
    const end = start + 7 * 86400;
    expect(historyWindow({ start, end }, [end])).toEqual([start, end]);
  });
  it("falls back to the data's span when the window is empty", () => {
    expect(historyWindow({ start: 5, end: 5 }, [10, 20, 30])).toEqual([10, 30]);
    expect(historyWindow({ start: 5, end: 5 }, [10])).toBeNull();
  });
});
