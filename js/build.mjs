// Build the widget bundle: first the layout worker (Graphviz + geometry), then the widget,
// which imports the worker bundle as text and starts it from a Blob URL. One file comes
// out, ../nbjobs/static/widget.js, with no network access at run time.
//
//   node build.mjs            build ../nbjobs/static/widget.js
//   node build.mjs --tests    also bundle tests/*.test.ts into build-tests/ for `node --test`

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outFile = join(here, "..", "nbjobs", "static", "widget.js");
const version = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).version;

const common = {
  bundle: true,
  format: "esm",
  charset: "utf8",
  logLevel: "warning",
  target: ["es2022"],
  legalComments: "none",
};

const workerBuild = await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "worker.ts")],
  minify: true,
  write: false,
  platform: "browser",
});
const workerSource = workerBuild.outputFiles[0].text;
const buildKey = `${version}_${createHash("sha256").update(workerSource).digest("hex").slice(0, 12)}`;

/** Resolve `nbjobs:worker-source` to the worker bundle, as a string module. */
const workerSourcePlugin = {
  name: "nbjobs-worker-source",
  setup(build) {
    build.onResolve({ filter: /^nbjobs:worker-source$/ }, (args) => ({
      path: args.path,
      namespace: "nbjobs-worker",
    }));
    build.onLoad({ filter: /.*/, namespace: "nbjobs-worker" }, () => ({
      contents: workerSource,
      loader: "text",
    }));
  },
};

const define = { __NBJOBS_BUILD__: JSON.stringify(buildKey) };

mkdirSync(dirname(outFile), { recursive: true });
await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "widget.ts")],
  outfile: outFile,
  minify: true,
  platform: "browser",
  loader: { ".css": "text" },
  define,
  plugins: [workerSourcePlugin],
});
console.log(`nbjobs: built ${outFile} (${readFileSync(outFile).length} bytes, build ${buildKey})`);

if (process.argv.includes("--tests")) {
  const testDir = join(here, "build-tests");
  rmSync(testDir, { recursive: true, force: true });
  const entries = readdirSync(join(here, "tests"))
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join(here, "tests", f));
  await esbuild.build({
    ...common,
    entryPoints: entries,
    outdir: testDir,
    outExtension: { ".js": ".mjs" },
    entryNames: "[name]",
    platform: "node",
    loader: { ".css": "text" },
    define,
    plugins: [workerSourcePlugin],
  });
}
