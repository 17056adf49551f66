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
