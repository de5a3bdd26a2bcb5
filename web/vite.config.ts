/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The built page ships inside the Python wheel: `spark-exporter api` serves this directory at `/`.
// setup.py's package build names its build tree instead (SPARK_EXPORTER_WEBUI_DIR), so that
// `pip wheel .` writes nothing into the source tree.
// (Node's own types are not installed; this is the one global the config reads.)
declare const process: { env: Record<string, string | undefined> };

export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: process.env.SPARK_EXPORTER_WEBUI_DIR || "../spark_exporter/query/webui",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1024,
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
  },
});
