// Output: results on stdout (text or JSON), notes on stderr. Nothing unprinting is written raw
// (printable.ts); what is written raw for other programs (`ls -0`) goes through `writeRaw`.
import { escapeText, toJson } from './printable.js';

let jsonOutput = false;

/** Switches every later `print` to JSON (the --json option). */
export function setJsonOutput(on: boolean): void {
  jsonOutput = on;
}

/** True when --json was given. */
export function isJsonOutput(): boolean {
  return jsonOutput;
}

/**
 * One result: `json` as one line of JSON with --json, else `text`, whose parts taken from data the
 * caller has already made printable (showKey, showToken, escapeText).
 */
export function print(text: string, json: unknown): void {
  process.stdout.write(`${jsonOutput ? toJson(json) : text}\n`);
}

/** Bytes for another program, exactly as given (`ls -0`). */
export function writeRaw(text: string): void {
  process.stdout.write(text);
}

/** One line on stderr: a newline or escape sequence inside `text` is escaped, so it stays one line. */
export function note(text: string): void {
  process.stderr.write(`synced-cache: ${escapeText(text)}\n`);
}

/** A value as `get` prints it: a string as it is, anything else as JSON. */
export function show(value: unknown): string {
  return typeof value === 'string' ? value : toJson(value);
}
