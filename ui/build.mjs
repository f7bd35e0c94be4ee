// Builds ui/dist: the bundle (esbuild, no inline scripts: the CSP forbids them) plus static files.
// Also builds ui/dist-agent, the agent client the shell serves from its own origin, with fixed
// file names: index.html, agent.css, agent.js, and softphone.js (Genesys's WebRTC SDK bundle,
// loaded lazily only for WebRTC stations) with its licence notices in softphone.js.LICENSE.txt.
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
// static/agent is the agent client's: it goes to dist-agent only, never to the app page's
// origin (which holds the IPC rights).
const agentStatic = join(here, "static", "agent");
cpSync(join(here, "static"), dist, { recursive: true, filter: (source) => !source.startsWith(agentStatic) });
await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  outfile: join(dist, "main.js"),
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});

const distAgent = join(here, "dist-agent");
rmSync(distAgent, { recursive: true, force: true });
mkdirSync(distAgent, { recursive: true });
cpSync(join(here, "static", "agent"), distAgent, { recursive: true });
await build({
  entryPoints: [join(here, "src", "agent", "main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  outfile: join(distAgent, "agent.js"),
  sourcemap: false,
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
// The WebRTC SDK's own prebuilt UMD bundle (it sets window.GenesysCloudWebrtcSdk), unchanged but
// for its pointers to a source map and licence file under other names.
const sdkDir = join(here, "node_modules", "genesys-cloud-webrtc-sdk");
const sdkVersion = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).version;
const sdkBundle = readFileSync(join(sdkDir, "dist", "genesys-cloud-webrtc-sdk.bundle.min.js"), "utf8")
  .replace("genesys-cloud-webrtc-sdk.bundle.min.js.LICENSE.txt", "softphone.js.LICENSE.txt")
  .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
writeFileSync(join(distAgent, "softphone.js"), sdkBundle);
writeFileSync(
  join(distAgent, "softphone.js.LICENSE.txt"),
  `softphone.js is genesys-cloud-webrtc-sdk ${sdkVersion} (https://github.com/purecloudlabs/genesys-cloud-webrtc-sdk).\n\n` +
    readFileSync(join(sdkDir, "LICENSE"), "utf8") +
    "\n\nThird-party notices of the bundle:\n\n" +
    readFileSync(join(sdkDir, "dist", `v${sdkVersion}`, "genesys-cloud-webrtc-sdk.bundle.min.js.LICENSE.txt"), "utf8"),
);
