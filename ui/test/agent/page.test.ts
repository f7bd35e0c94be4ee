// The static page against the view and the CSP: every element the view looks up exists, ids are
// unique, nothing inline (script-src/style-src 'self'), no storage APIs anywhere in our sources.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const ui = process.cwd();
const html = readFileSync(join(ui, "static", "agent", "index.html"), "utf8");
const view = readFileSync(join(ui, "src", "agent", "view.ts"), "utf8");

test("every id the view looks up is in index.html, once", () => {
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, "duplicate ids");
  const wanted = [...view.matchAll(/\bel(?:<[^>]+>)?\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.ok(wanted.length > 30);
  for (const id of wanted) assert.ok(ids.includes(id), `#${id} missing from index.html`);
  for (const id of ["presence-select", "on-queue", "answer", "decline", "hold", "mute", "hangup", "transfer", "wrapup-code", "wrapup-notes", "wrapup-submit", "recent-list", "status-text"]) {
    assert.ok(ids.includes(id), id);
    assert.ok(view.includes(`#${id}`), `#${id} not documented at the top of view.ts`);
  }
  assert.match(html, /<form id="dialpad"[\s\S]*?<input id="dial-number"/);
});

test("keyboard shortcuts are declared on their buttons", () => {
  assert.match(html, /id="answer"[^>]*aria-keyshortcuts="Alt\+A"/);
  assert.match(html, /id="hangup"[^>]*aria-keyshortcuts="Alt\+H"/);
  assert.match(html, /id="mute"[^>]*aria-keyshortcuts="Alt\+M"/);
  assert.match(html, /id="hold"[^>]*aria-keyshortcuts="Alt\+O"/);
  assert.match(html, /id="live"[^>]*aria-live="assertive"/);
  assert.doesNotMatch(html, /id="call-timer"[^>]*aria-live/);
});

test("nothing inline, nothing remote (the shell's CSP)", () => {
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc="agent\.js")/);
  assert.doesNotMatch(html, /<style|\sstyle="|\son[a-z]+="/i);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
});

test("the agent client never touches storage, cookies or eval", () => {
  const dir = join(ui, "src", "agent");
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".ts"));
  for (const file of files) {
    const source = readFileSync(join(dir, file), "utf8");
    for (const banned of ["localStorage", "sessionStorage", "indexedDB", "document.cookie", "eval(", "new Function", "innerHTML", "postMessage(message, \"*\")"]) {
      assert.ok(!source.includes(banned), `${file} uses ${banned}`);
    }
  }
});
