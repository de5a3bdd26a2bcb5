import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient } from "../src/api/client";
import { Cards } from "../src/app/Cards";
import { DASH } from "../src/format";
import { ApiProvider } from "../src/hooks";

/** Renders the cards against one fixed overview answer. */
function renderCards(body: unknown) {
  const fetchFn = (async () =>
    new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } })) as typeof fetch;
  const client = createApiClient({ fetch: fetchFn });
  render(
    <ApiProvider client={client}>
      <QueryClientProvider client={new QueryClient()}>
        <Cards />
      </QueryClientProvider>
    </ApiProvider>,
  );
}

// Without vitest globals, Testing Library does not unmount between tests by itself.
afterEach(cleanup);

describe("Cards", () => {
  it("shows an unknown vLLM queue as a dash with the API's reason, never 0 waiting", async () => {
    renderCards({
      cluster: "c",
      missing: { vllmRequestsWaiting: "no vllm:num_requests_waiting series" },
      vllmGenerationTokensPerSec: 120,
      vllmRequestsRunning: 3,
      vllmRequestsWaiting: null,
    });
    const waiting = await screen.findByTestId("tokens-waiting");
    expect(waiting.textContent).toBe(DASH);
    expect(waiting.getAttribute("title")).toBe("no vllm:num_requests_waiting series");
  });
});

describe("Cards, all engines", () => {
  it("shows the tokens per second of every inference engine where the API has them", async () => {
    renderCards({
      cluster: "c",
      missing: {},
      vllmGenerationTokensPerSec: 120,
      inferenceGenerationTokensPerSec: 170,
      vllmRequestsRunning: 3,
      vllmRequestsWaiting: 0,
    });
    const tokens = await screen.findByTestId("tokens");
    expect(tokens.textContent).toBe("170 tok/s");
  });
});
