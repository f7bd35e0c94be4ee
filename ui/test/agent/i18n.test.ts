import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogueFor, CATALOGUES, translator } from "../../src/agent/i18n";
import { de } from "../../src/agent/i18n/de";
import { en } from "../../src/agent/i18n/en";

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();

test("every catalogue has exactly the English keys and the same placeholders", () => {
  const keys = Object.keys(en).sort();
  for (const [lang, catalogue] of Object.entries(CATALOGUES)) {
    assert.deepEqual(Object.keys(catalogue).sort(), keys, lang);
    for (const key of keys) {
      const text = (catalogue as Record<string, string>)[key] ?? "";
      assert.ok(text.trim().length > 0, `${lang}.${key} is empty`);
      assert.deepEqual(placeholders(text), placeholders((en as Record<string, string>)[key] ?? ""), `${lang}.${key}`);
    }
  }
  assert.ok(Object.keys(CATALOGUES).includes("de"));
});

test("the language of init picks the catalogue; unknown ones fall back to English", () => {
  assert.equal(catalogueFor("de").messages, de);
  assert.equal(catalogueFor("de-AT").lang, "de");
  assert.equal(catalogueFor("de_CH").lang, "de");
  assert.equal(catalogueFor("en-GB").messages, en);
  assert.equal(catalogueFor("fr").lang, "en");
  const t = translator(de);
  assert.equal(t("incomingCallQueue", { caller: "Pat", queue: "Support" }), "Eingehender Anruf von Pat über Support");
});
