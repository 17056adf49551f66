// Job-provided text (labels, outputs, tracebacks) must never be parsed as HTML: the
// widget's sources use textContent and createElement only. This test keeps it so.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const SINKS = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment|srcdoc|eval)\b/;

test("no HTML-parsing sink in the widget's sources", () => {
  const dir = join(process.cwd(), "src");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 10, `found only ${files.length} sources in ${dir}`);
  for (const file of files) {
    const lines = readFileSync(join(dir, file), "utf8").split("\n");
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "");
      assert.doesNotMatch(code, SINKS, `${file}:${i + 1}: ${line.trim()}`);
    });
  }
});
