// Turns the API's utilisation history into uPlot's aligned columns.
import type { UtilizationHistory } from "../api/client";

/** uPlot's data: x in Unix seconds, then one column per series (null where that series has no sample). */
export type Columns = [number[], ...(number | null)[][]];

/** Aligns every series on the union of their timestamps, so a GPU with gaps (or fewer samples than the
 * first series) is drawn at its own times instead of shifted onto another series' timestamps. */
export function alignHistory(series: UtilizationHistory["series"]): Columns {
  const xs = [...new Set(series.flatMap((s) => s.values.map((p) => p.timestamp / 1000)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    for (const p of s.values) col[index.get(p.timestamp / 1000)!] = p.value != null && Number.isFinite(p.value) ? p.value : null;
    return col;
  });
  return [xs, ...cols];
}

/** The x range to draw: the whole window the API queried (its `start`/`end`, Unix seconds), so "7d"
 * spans seven days even while only a few minutes of data exist (uPlot would otherwise stretch one
 * point over years). Falls back to the data's own span when the API gave no window. */
export function historyWindow(history: Pick<UtilizationHistory, "start" | "end">, xs: number[]): [number, number] | null {
  const { start, end } = history;
  if (start != null && end != null && Number.isFinite(start) && Number.isFinite(end) && end > start) return [start, end];
  if (xs.length >= 2) return [xs[0]!, xs[xs.length - 1]!];
  return null;
}
