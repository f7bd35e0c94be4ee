// Every (method, path template) our API layer uses must exist in Genesys's own SDK,
// purecloud-platform-client-v2 (pinned devDependency), read from its api/*.js sources.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fillPath, ROUTES } from "../../src/agent/api";

const pkgDir = join(process.cwd(), "node_modules", "purecloud-platform-client-v2");
const apiDir = join(pkgDir, "src", "purecloud-platform-client-v2", "api");

function sdkRoutes(): Set<string> {
  const routes = new Set<string>();
  for (const file of readdirSync(apiDir).filter((f) => f.endsWith(".js"))) {
    const source = readFileSync(join(apiDir, file), "utf8");
    for (const m of source.matchAll(/callApi\(\s*'([^']+)',\s*'([A-Z]+)'/g)) {
      routes.add(`${m[2]} ${m[1]}`);
    }
  }
  return routes;
}

test("the pinned SDK is the one the routes are checked against", () => {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
  assert.equal(pkg.version, "262.0.0");
  const ours = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  assert.equal(ours.devDependencies["purecloud-platform-client-v2"], "262.0.0");
});

test("every route of our API layer exists in purecloud-platform-client-v2", () => {
  const known = sdkRoutes();
  assert.ok(known.size > 1000, `only ${known.size} routes read from the SDK`);
  for (const [name, [method, path]] of Object.entries(ROUTES)) {
    assert.ok(known.has(`${method} ${path}`), `${name}: ${method} ${path} is not in the SDK`);
  }
  // A made-up one is not (the check can fail).
  assert.equal(known.has("PATCH /api/v2/users/me"), false);
});

test("path parameters are encoded as one segment and must be present", () => {
  assert.equal(fillPath(ROUTES.joinQueue[1], { userId: "u 1", queueId: "../x" }), "/api/v2/users/u%201/queues/..%2Fx");
  assert.throws(() => fillPath(ROUTES.station[1], {}));
});
