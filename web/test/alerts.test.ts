import { describe, expect, it } from "vitest";
import { runbookHref } from "../src/app/AlertsPanel";

describe("runbookHref", () => {
  it("links the packaged rules' absolute runbook URLs", () => {
    const url = "https://github.com/spark-exporter/spark-exporter/blob/main/docs/alerts.md#sparkexporterdown";
    expect(runbookHref(url)).toBe(url);
  });

  it("does not link a relative runbook path, which would resolve against the API's own origin", () => {
    expect(runbookHref("docs/alerts.md#sparkexporterdown")).toBeNull();
    expect(runbookHref("/docs/alerts.md")).toBeNull();
    expect(runbookHref(null)).toBeNull();
  });
});
