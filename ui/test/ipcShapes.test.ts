// The page's IPC types (src/ipc.ts) against samples the Rust types produce
// (src-tauri/fixtures/ipc-shapes.json, kept current by a Rust test). Most of the check is at
// compile time, in `npm run typecheck`: every field the page declares must be in the sample
// with its type, and the sample may carry no field the page does not declare.
import assert from "node:assert/strict";
import { test } from "node:test";
import shapes from "../../src-tauri/fixtures/ipc-shapes.json";
import {
  AUTH_ERROR_ACTIONS,
  CODES,
  CONFIG_STATUSES,
  PHASES,
  type AuthErrorOutcome,
  type EmbedCredentials,
  type EmbedSettings,
  type IpcError,
  type LinkOutcome,
  type DiagnosticsCopy,
  type Notice,
  type SessionView,
  type ShellInfo,
  type SignInStarted,
  type UserInfo,
} from "../src/ipc";

/** JSON imports type string values as `string`: compare against the types with their string
 * unions widened the same way (the unions themselves are checked at run time below). */
type Wire<T> = T extends string
  ? string
  : T extends number | boolean | null
    ? T
    : T extends readonly (infer Item)[]
      ? Wire<Item>[]
      : { [K in keyof T]: Wire<T[K]> };

/** true only when A and B have exactly the same keys. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;

// Every declared field present, with its type; nullable where Rust sends null (the samples
// cover the states that leave fields empty).
const shellInfo: Wire<ShellInfo> = shapes.shellInfo;
const shellInfoStates: Wire<ShellInfo>[] = [shapes.shellInfoInvalid, shapes.shellInfoNotConfigured];
const sessionView: Wire<SessionView> = shapes.sessionView;
const sessionViewSignedOut: Wire<SessionView> = shapes.sessionViewSignedOut;
const linkOutcomeOpened: Wire<LinkOutcome> = shapes.linkOutcomeOpened;
const embedCredentials: Wire<EmbedCredentials> = shapes.embedCredentials;
const signInStarted: Wire<SignInStarted> = shapes.signInStarted;
const linkOutcome: Wire<LinkOutcome> = shapes.linkOutcome;
const diagnosticsCopy: Wire<DiagnosticsCopy> = shapes.diagnosticsCopy;
const ipcError: Wire<IpcError> = shapes.ipcError;
const authErrorOutcome: Wire<AuthErrorOutcome> = shapes.authErrorOutcome;

// No field the page does not know about (nested objects too).
const sameKeys: true[] = [
  true satisfies SameKeys<typeof shapes.shellInfo, ShellInfo>,
  true satisfies SameKeys<typeof shapes.shellInfoInvalid, ShellInfo>,
  true satisfies SameKeys<typeof shapes.shellInfoInvalid.configError, IpcError>,
  true satisfies SameKeys<typeof shapes.shellInfoNotConfigured, ShellInfo>,
  true satisfies SameKeys<typeof shapes.sessionViewSignedOut, SessionView>,
  true satisfies SameKeys<typeof shapes.linkOutcomeOpened, LinkOutcome>,
  true satisfies SameKeys<typeof shapes.sessionView, SessionView>,
  true satisfies SameKeys<typeof shapes.sessionView.user, UserInfo>,
  true satisfies SameKeys<typeof shapes.sessionView.notice, Notice>,
  true satisfies SameKeys<typeof shapes.embedCredentials, EmbedCredentials>,
  true satisfies SameKeys<typeof shapes.embedCredentials.embeddedClientSettings, EmbedSettings>,
  true satisfies SameKeys<typeof shapes.signInStarted, SignInStarted>,
  true satisfies SameKeys<typeof shapes.linkOutcome, LinkOutcome>,
  true satisfies SameKeys<typeof shapes.diagnosticsCopy, DiagnosticsCopy>,
  true satisfies SameKeys<typeof shapes.ipcError, IpcError>,
  true satisfies SameKeys<typeof shapes.authErrorOutcome, AuthErrorOutcome>,
];

test("the samples cover each configuration state and both ends of the session", () => {
  assert.ok(sameKeys.every((same) => same));
  assert.deepEqual(
    [shellInfo, ...shellInfoStates].map((info) => info.status).sort(),
    [...CONFIG_STATUSES].sort(),
  );
  assert.equal(sessionView.phase, "signed-in");
  assert.equal(sessionViewSignedOut.user, null);
  assert.equal(linkOutcomeOpened.opened, true);
  assert.equal(typeof embedCredentials.accessToken, "string");
  assert.equal(typeof signInStarted.browserOpened, "boolean");
  assert.equal(linkOutcome.opened, false);
  assert.equal(typeof diagnosticsCopy.copied, "boolean");
  assert.equal(typeof ipcError.code, "string");
  assert.equal(authErrorOutcome.action, "report");
});

test("the page knows every phase and config status Rust sends, and no others", () => {
  assert.deepEqual([...PHASES].sort(), [...shapes.phases].sort());
  assert.deepEqual([...CONFIG_STATUSES].sort(), [...shapes.configStatuses].sort());
  assert.deepEqual([...AUTH_ERROR_ACTIONS].sort(), [...shapes.authErrorActions].sort());
  // One list of codes: the page's is Rust's, in the same order.
  assert.deepEqual([...CODES], shapes.codes);
});
