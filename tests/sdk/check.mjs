// Drive the official SDK against the simulator; any schema or API error fails the check.
import { configure, queues, runs, wait, tasks } from "@trigger.dev/sdk";

configure({ baseURL: process.env.TRIGGER_API_URL, secretKey: process.env.TRIGGER_SECRET_KEY,
  requestOptions: { retry: { maxAttempts: 1 } } });
const results = [];
async function step(name, fn) {
  try {
    const out = await fn();
    results.push([name, "ok"]);
    return out;
  } catch (error) {
    results.push([name, "FAIL"]);
    console.log(`FAIL ${name}: ${error?.name}: ${error?.message}`);
    if (error?.issues) console.log(JSON.stringify(error.issues, null, 1).slice(0, 2000));
    if (error?.cause) console.log("cause:", String(error.cause).slice(0, 2000));
    return undefined;
  }
}
const page = await step("queues.list", () => queues.list());
await step("queues.list page 2", () => queues.list({ page: 2, perPage: 2 }));
const q = page?.data?.[0];
if (q) {
  await step("queues.retrieve id", () => queues.retrieve(q.id));
  await step("queues.retrieve name", () => queues.retrieve({ type: q.type, name: q.name }));
  await step("queues.pause", () => queues.pause(q.id));
  await step("queues.resume", () => queues.resume(q.id));
  await step("queues.overrideConcurrencyLimit", () => queues.overrideConcurrencyLimit(q.id, 3));
  await step("queues.resetConcurrencyLimit", () => queues.resetConcurrencyLimit(q.id));
}
let count = 0; let first;
await step("runs.list auto-pagination", async () => {
  for await (const run of runs.list({ limit: 50 })) { first ??= run; if (++count >= 400) break; }
});
await step("runs.list filters", async () => {
  for await (const run of runs.list({ status: ["QUEUED", "EXECUTING", "WAITING", "DEQUEUED"], taskIdentifier: ["agent-turn", "approve-order"], limit: 20 })) { if (++count > 600) break; }
});
await step("runs.list queue filter", async () => {
  for await (const run of runs.list({ queue: { type: "custom", name: "shared-email" }, limit: 20 })) { if (++count > 700) break; }
});
await step("runs.list tag", async () => { for await (const run of runs.list({ tag: "approval" })) { break; } });
const statuses = ["COMPLETED", "FAILED", "CANCELED", "EXPIRED", "TIMED_OUT", "CRASHED", "SYSTEM_FAILURE", "DELAYED", "PENDING_VERSION", "QUEUED", "DEQUEUED", "EXECUTING", "WAITING"];
for (const status of statuses) {
  await step(`runs.retrieve ${status}`, async () => {
    for await (const run of runs.list({ status: [status], limit: 5 })) { await runs.retrieve(run.id); break; }
  });
}
const triggered = await step("tasks.trigger", () => tasks.trigger("send-email", { to: "ops@example.com" },
  { tags: ["sdk-check"], metadata: { source: "sdk" }, queue: "shared-email", idempotencyKey: "sdk-check-1", ttl: "10m" }));
await step("tasks.trigger delayed", () => tasks.trigger("process-video", { id: 1 }, { delay: "1h" }));
if (triggered) {
  await step("runs.retrieve triggered", () => runs.retrieve(triggered.id));
  await step("runs.cancel", () => runs.cancel(triggered.id));
  await step("runs.replay", () => runs.replay(triggered.id));
}
let token;
await step("wait.listTokens", async () => { for await (const t of wait.listTokens({ status: ["WAITING"] })) { token ??= t; } });
await step("wait.listTokens all", async () => { for await (const t of wait.listTokens()) { } });
if (token) {
  await step("wait.retrieveToken", () => wait.retrieveToken(token.id));
  await step("wait.completeToken", () => wait.completeToken(token.id, { approved: true }));
  await step("wait.retrieveToken completed", () => wait.retrieveToken(token.id));
}
await step("wait.createToken", () => wait.createToken({ timeout: "1h", tags: ["sdk"], idempotencyKey: "sdk-token" }));
for (const [name, state] of results) console.log(`${state.padEnd(4)} ${name}`);
const failed = results.filter(([, s]) => s !== "ok").length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
