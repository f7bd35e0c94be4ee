// Picks the catalogue for init.language ("de", "de-DE", "de_AT" -> German; anything else English)
// and fills `{name}` placeholders.
import { de } from "./de";
import { en, type Catalogue, type MessageKey } from "./en";

export type { Catalogue, MessageKey } from "./en";

export const CATALOGUES: Record<string, Catalogue> = { en, de };

export function catalogueFor(language: string): { lang: string; messages: Catalogue } {
  const base = language.toLowerCase().split(/[-_]/)[0] ?? "en";
  const messages = CATALOGUES[base];
  return messages === undefined ? { lang: "en", messages: en } : { lang: base, messages };
}

export type Translate = (key: MessageKey, params?: Record<string, string>) => string;

export function translator(messages: Catalogue): Translate {
  return (key, params = {}) =>
    (messages[key] ?? key).replace(/\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
}
