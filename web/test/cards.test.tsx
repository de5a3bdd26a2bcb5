import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, type ClusterOverview } from "../src/api/client";
import { Cards } from "../src/app/Cards";
import { DASH } from "../src/format";
import type { Snapshot } from "../src/hooks";

function snapshot(body: Partial<ClusterOverview>): Snapshot {
  const fresh = { stale: false, reason: null };
  return {
    time: 1000,
    overview: { body: body as ClusterOverview, staleness: fresh },
    nodes: new ApiError(0, "network", "not asked"),
    network: new ApiError(0, "network", "not asked"),
    gpus: new Map(),
  };
}

// Without vitest globals, Testing Library does not unmount between tests by itself.
afterEach(cleanup);

describe("Cards", () => {

  it("shows an unknown vLLM queue as a dash with the API's reason, never 0 waiting", () => {
    render(
      <Cards
        outage={null}
        snapshot={snapshot({
          cluster: "c",
          missing: { vllmRequestsWaiting: "no vllm:num_requests_waiting series" },
          vllmGenerationTokensPerSec: 120,
          vllmRequestsRunning: 3,
          vllmRequestsWaiting: null,
        })}
      />,
    );
    const waiting = screen.getByTestId("tokens-waiting");
    expect(waiting.textContent).toBe(DASH);
    expect(waiting.getAttribute("title")).toBe("no vllm:num_requests_waiting series");
  });

  it("in an outage before any snapshot shows dashes with the reason, not loading skeletons", () => {
    render(<Cards outage={new ApiError(503, "prometheus_unavailable", "Prometheus is down")} snapshot={null} />);
    const cards = screen.getByTestId("cards");
    expect(cards.getAttribute("data-state")).toBe("outage");
    expect(cards.querySelectorAll("[aria-busy]").length).toBe(0);
    const dashes = cards.querySelectorAll("[data-missing]");
    expect(dashes.length).toBe(6);
    expect(dashes[0]!.getAttribute("title")).toBe("Prometheus is down");
  });

  it("while the first snapshot loads shows skeletons", () => {
    render(<Cards outage={null} snapshot={null} />);
    expect(screen.getByTestId("cards").getAttribute("data-state")).toBe("loading");
  });
});

describe("Cards, all engines", () => {
  it("shows the tokens per second of every inference engine where the API has them", () => {
    render(
      <Cards
        outage={null}
        snapshot={snapshot({
          cluster: "c",
          missing: {},
          vllmGenerationTokensPerSec: 120,
          inferenceGenerationTokensPerSec: 170,
          vllmRequestsRunning: 3,
          vllmRequestsWaiting: 0,
        })}
      />,
    );
    const tokens = screen.getByTestId("tokens");
    expect(tokens.textContent).toBe("170 tok/s");
  });
});
