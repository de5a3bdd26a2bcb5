import { DASH } from "../format";

/** One figure: the formatted value (kept on one line with its unit), or a dash whose tooltip is the API's reason. */
export function Value({ text, reason, testId }: { text: string; reason?: string; testId?: string }) {
  if (text === DASH) {
    return (
      <span className="missing v" title={reason ?? "no data"} data-testid={testId} data-missing="true">
        {DASH}
      </span>
    );
  }
  return (
    <span className="v" data-testid={testId}>
      {text}
    </span>
  );
}

export function Skeleton({ lines = 1 }: { lines?: number }) {
  return (
    <div className="skeleton" aria-busy="true" aria-label="loading" role="status">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton-line" />
      ))}
    </div>
  );
}
