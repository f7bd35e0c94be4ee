// Runs the UI unit tests under Node's built-in runner: esbuild bundles each *.test.ts (with
// the JSON fixtures it imports) into test-dist/, then `node --test` runs them.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "test-dist");
rmSync(out, { recursive: true, force: true });
// Tests live in test/ and its subfolders (test/agent/ for the agent client).
const tests = readdirSync(here, { recursive: true })
  .map((name) => String(name))
  .filter((name) => name.endsWith(".test.ts"));
if (tests.length === 0) {
  console.error("no UI tests found");
  process.exit(1);
}
await build({
  entryPoints: tests.map((name) => join(here, name)),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir: out,
  outbase: here,
  outExtension: { ".js": ".mjs" },
  logLevel: "warning",
});
const files = tests.map((name) => join(out, name.replace(/\.ts$/, ".mjs")));
const result = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
