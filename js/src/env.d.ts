// Modules that build.mjs provides: the worker bundle and the stylesheet, both as text.
declare module "nbjobs:worker-source" {
  const source: string;
  export default source;
}
declare module "*.css" {
  const text: string;
  export default text;
}
// A key that changes with each build of the worker, so widgets from different nbjobs
// versions in one page never share an incompatible Graphviz instance.
declare const __NBJOBS_BUILD__: string;
// A key that changes with each build of runtime.js (the view): the loader keeps the page's
// one import of it on globalThis under this key.
declare const __NBJOBS_RUNTIME__: string;
