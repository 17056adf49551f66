// The loader: one import of the view per page, shared by every widget; a failed load is
// not kept; a widget whose runtime model is gone asks the kernel for the live one.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { AnyModel } from "@anywidget/types";
import { viewModule } from "../src/loader";

type Handler = (msg: unknown) => void;

interface Fake {
  model: AnyModel<{ _runtime: string }>;
  asked: string[];
  sent: unknown[];
  reply(msg: unknown): void;
}

/** A widget's model naming runtime `ref`; `models` is what its widget manager knows. */
function fakeModel(ref: string, models: Record<string, AnyModel> | null, pending = false): Fake {
  const asked: string[] = [];
  const sent: unknown[] = [];
  const handlers = new Set<Handler>();
  const manager = {
    get_model(id: string): Promise<AnyModel> {
      asked.push(id);
      if (pending) return new Promise(() => undefined);
      const found = models?.[id];
      return found === undefined ? Promise.reject(new Error("widget model not found")) : Promise.resolve(found);
    },
  };
  const model = {
    get: (key: string) => (key === "_runtime" ? ref : undefined),
    on: (name: string, cb: Handler) => {
      if (name === "msg:custom") handlers.add(cb);
    },
    off: (name: string, cb: Handler) => {
      if (name === "msg:custom") handlers.delete(cb);
    },
    send: (msg: unknown) => sent.push(msg),
    ...(models === null ? {} : { widget_manager: manager }),
  } as unknown as AnyModel<{ _runtime: string }>;
  return { model, asked, sent, reply: (msg) => [...handlers].forEach((h) => h(msg)) };
}

function runtimeModel(source: string): AnyModel {
  return { get: () => source } as unknown as AnyModel;
}

afterEach(() => {
  const g = globalThis as unknown as Record<string, unknown>;
  for (const key of Object.keys(g)) if (key.startsWith("__nbjobs_view_")) delete g[key];
});

test("every widget of a page shares one import of the view", () => {
  const first = fakeModel("IPY_MODEL_rt", {}, true);
  const second = fakeModel("IPY_MODEL_rt", {}, true);
  const loading = viewModule(first.model);
  assert.equal(viewModule(second.model), loading);
  assert.deepEqual(first.asked, ["rt"]);
  assert.deepEqual(second.asked, []);
  // under a key made from the view's build: another nbjobs' loader would not share it
  const keys = Object.keys(globalThis).filter((k) => k.startsWith("__nbjobs_view_"));
  assert.equal(keys.length, 1);
  assert.match(keys[0] ?? "", /^__nbjobs_view_.+_[0-9a-f]{12}$/);
});

test("a failed load is not kept: the next widget tries again", async () => {
  const without = fakeModel("IPY_MODEL_rt", null);
  await assert.rejects(viewModule(without.model), /no widget manager/);
  const next = fakeModel("IPY_MODEL_rt", {}, true);
  void viewModule(next.model);
  assert.deepEqual(next.asked, ["rt"]);
});

test("a widget whose runtime model is gone asks the kernel for the live one", async () => {
  const fake = fakeModel("IPY_MODEL_closed", { live: runtimeModel("export const x = 1;") });
  const loading = viewModule(fake.model);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(fake.sent, [{ type: "runtime" }]);
  fake.reply({ type: "delta" }); // other messages are not the answer
  fake.reply({ type: "runtime", runtime: "IPY_MODEL_live" });
  // node cannot import from a blob: URL; a page does. What matters is which model it read.
  await loading.catch(() => undefined);
  assert.deepEqual(fake.asked, ["closed", "live"]);
});
