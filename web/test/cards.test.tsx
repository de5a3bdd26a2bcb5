import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
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
