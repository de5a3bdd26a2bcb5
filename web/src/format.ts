// Formatting for the page. A missing value is an em dash, never 0; the API's reason goes in a tooltip.

export const DASH = "—";

/** A figure with its unit, or the dash when the API sent null. */
export function fmt(value: number | null | undefined, unit = "", decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(decimals)}${unit}`;
}

/** A percentage with 0 decimals at or above 10 %, 1 below (the API's number, never recomputed). */
export function fmtPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(Math.abs(value) >= 10 ? 0 : 1)} %`;
}

const RATE_UNITS = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];

/** Bytes per second in decimal units (network convention). */
export function fmtRate(bytesPerSec: number | null | undefined): string {
  if (bytesPerSec === null || bytesPerSec === undefined || !Number.isFinite(bytesPerSec)) return DASH;
  let v = bytesPerSec;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < RATE_UNITS.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${RATE_UNITS[i]}`;
}

/** An RDMA port's link rate (bytes/s from the API) in Gb/s, the unit the port itself reports. */
export function fmtLinkRate(bytesPerSec: number | null | undefined): string {
  if (bytesPerSec === null || bytesPerSec === undefined || !Number.isFinite(bytesPerSec)) return DASH;
  const gbits = (bytesPerSec * 8) / 1e9;
  return `${gbits.toFixed(Number.isInteger(gbits) ? 0 : 1)} Gb/s`;
}

/** The badge for an RDMA port's logical state: its name, and whether it is a problem (anything but active). */
export function rdmaStateBadge(state: string | null | undefined): { text: string; down: boolean } | null {
  if (state === null || state === undefined) return null;
  return { text: state.replace("_", " "), down: state !== "active" };
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Bytes in binary units (memory convention), so 1.2 MiB never reads as "0.0 GiB". */
export function fmtBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return DASH;
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${BYTE_UNITS[i]}`;
}

/** MiB as GiB with one decimal (the page shows memory in GiB everywhere). */
export function fmtMiBAsGiB(mib: number | null | undefined): string {
  return fmt(mib === null || mib === undefined ? null : mib / 1024, " GiB");
}

/** The reason the API gave for a missing figure, if any. */
export function reasonFor(missing: Record<string, string> | undefined, key: string): string | undefined {
  return missing?.[key];
}

/** NVML clock-event (throttle) reason bits that mean the GPU is held down by power or heat. */
export const HELD_DOWN_REASONS: Record<number, string> = {
  0x4: "software power cap",
  0x8: "hardware slowdown",
  0x20: "software thermal slowdown",
  0x40: "hardware thermal slowdown",
  0x80: "hardware power brake",
};

/** Names of the held-down reasons set in an NVML bitmask. */
export function throttleNames(mask: number | null | undefined): string[] {
  if (mask === null || mask === undefined) return [];
  return Object.entries(HELD_DOWN_REASONS)
    .filter(([bit]) => (mask & Number(bit)) !== 0)
    .map(([, name]) => name);
}

/** Busy GPUs below this SM clock are flagged: a DGX Spark on a badly negotiated USB-C PD supply runs
 * its GB10 near its floor clock under load. MHz. */
export const LOW_CLOCK_MHZ = 1000;

/** Why a GPU looks held at low clocks under load, or null when it does not. */
export function lowClockUnderLoad(
  utilization: number | null | undefined,
  smClockMHz: number | null | undefined,
  throttleReasons: number | null | undefined,
): string | null {
  if (utilization === null || utilization === undefined || utilization < 50) return null;
  const reasons = throttleNames(throttleReasons);
  if (reasons.length > 0) return `held down under load: ${reasons.join(", ")}`;
  if (smClockMHz !== null && smClockMHz !== undefined && smClockMHz < LOW_CLOCK_MHZ) {
    return `SM clock ${smClockMHz.toFixed(0)} MHz under ${utilization.toFixed(0)} % load`;
  }
  return null;
}

/** An instant (s since epoch) as the viewer's local HH:MM:SS. */
export function fmtClock(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined || !Number.isFinite(epochSeconds)) return DASH;
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** How long ago an instant (s since epoch) was, relative to `now` (s): "45 s", "12 min", "3 h", "2 d". */
export function fmtAgo(epochSeconds: number | null | undefined, now: number): string {
  if (epochSeconds === null || epochSeconds === undefined || !Number.isFinite(epochSeconds)) return DASH;
  const s = Math.max(0, now - epochSeconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
