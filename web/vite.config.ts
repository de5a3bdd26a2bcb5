/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The built page ships inside the Python wheel: `spark-exporter api` serves this directory at `/`.
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: "../spark_exporter/query/webui",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1024,
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
  },
});
