// Output: results on stdout (text or JSON), notes on stderr.

let jsonOutput = false;

/** Switches every later `print` to JSON (the --json option). */
export function setJsonOutput(on: boolean): void {
  jsonOutput = on;
}

/** True when --json was given. */
export function isJsonOutput(): boolean {
  return jsonOutput;
}

export function print(text: string, json: unknown): void {
  process.stdout.write(`${jsonOutput ? JSON.stringify(json) : text}\n`);
}

export function note(text: string): void {
  process.stderr.write(`synced-cache: ${text}\n`);
}

export function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
