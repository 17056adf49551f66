// Build the widget's front-end, with no network access at run time, in three steps:
// the layout worker (Graphviz + geometry); the view (widget.ts), which imports the worker
// bundle as text and starts it from a Blob URL, into ../nbjobs/static/runtime.js, which the
// kernel sends once per page (nbjobs/_widget/runtime.py); and the small loader (loader.ts),
// anywidget's module for each widget, into ../nbjobs/static/widget.js. The loader carries
// a hash of runtime.js: its key for the page's one import of it.
//
//   node build.mjs            build ../nbjobs/static/runtime.js and widget.js
//   node build.mjs --tests    also bundle tests/*.test.ts into build-tests/ for `node --test`

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outFile = join(here, "..", "nbjobs", "static", "runtime.js");
const loaderFile = join(here, "..", "nbjobs", "static", "widget.js");
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
const runtime = readFileSync(outFile);
const runtimeKey = `${version}_${createHash("sha256").update(runtime).digest("hex").slice(0, 12)}`;
console.log(`nbjobs: built ${outFile} (${runtime.length} bytes, build ${buildKey})`);

const loaderDefine = { __NBJOBS_RUNTIME__: JSON.stringify(runtimeKey) };
await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "loader.ts")],
  outfile: loaderFile,
  minify: true,
  platform: "browser",
  define: loaderDefine,
});
console.log(`nbjobs: built ${loaderFile} (${readFileSync(loaderFile).length} bytes, view ${runtimeKey})`);

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
    define: { ...define, ...loaderDefine },
    plugins: [workerSourcePlugin],
  });
}
