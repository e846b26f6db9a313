// The official SDK against the simulator's real-server behaviours (issue 12). Each step either succeeds or fails
// with exactly the error the real server gives; anything else fails the check.
import { configure, queues, runs, wait, tasks } from "@trigger.dev/sdk";

const env = process.env;
const once = { retry: { maxAttempts: 1 } };
const results = [];
async function step(name, fn) {
  try {
    await fn();
    results.push([name, "ok"]);
  } catch (error) {
    results.push([name, "FAIL"]);
    console.log(`FAIL ${name}: ${error?.name}: ${error?.status ?? ""} ${error?.message}`);
  }
}
async function refused(status, fn) {
  let caught;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  if (caught?.status !== status) throw new Error(`expected ${status}, got ${caught?.status ?? "success"}`);
  return caught;
}
async function sim(path, body) {
  const answer = await fetch(`${env.TRIGGER_API_URL}/_sim/${path}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${env.SIM_ADMIN_TOKEN}`, "Content-Type": "application/json" },
  });
  if (!answer.ok) throw new Error(`/_sim/${path}: ${answer.status}`);
}
const use = (overrides) => configure({ baseURL: env.TRIGGER_API_URL, secretKey: env.TRIGGER_SECRET_KEY,
  requestOptions: once, ...overrides });

// Preview branches: the branch goes in x-trigger-branch; without one the server answers 401.
use({ baseURL: env.PREVIEW_API_URL, secretKey: env.PREVIEW_SECRET_KEY, previewBranch: "feature-x" });
await step("preview key with a branch: queues.list", () => queues.list());
await step("preview key with a branch: runs.list", async () => { for await (const run of runs.list({ limit: 5 })) break; });
use({ baseURL: env.PREVIEW_API_URL, secretKey: env.PREVIEW_SECRET_KEY });
await step("preview key without a branch: 401", () => refused(401, () => queues.list()));

// A restricted key: refused (403) on the waitpoint token routes, fine elsewhere.
use({ secretKey: env.SCOPED_SECRET_KEY });
await step("restricted key: queues.list", () => queues.list());
await step("restricted key: wait.listTokens 403", () => refused(403, async () => { for await (const t of wait.listTokens()) break; }));

// Short pages with `next` still set: the SDK's cursor must go on past them to every run.
use({});
const tag = `lag-${Date.now()}`;
const made = [];
await step("short pages: trigger five delayed runs", async () => {
  for (let i = 0; i < 5; i++) made.push((await tasks.trigger("process-video", { i }, { delay: "1h", tags: [tag] })).id);
});
await new Promise((resolve) => setTimeout(resolve, (Number(env.REPLICA_LAG) + 1) * 1000));
await step("short pages: cancel the newest two", async () => { for (const id of made.slice(-2)) await runs.cancel(id); });
await step("short pages: a short page with next set, then every run", async () => {
  let page = await runs.list({ tag: [tag], status: ["DELAYED"], limit: 2 });
  let short = false;
  const seen = [];
  for (let pages = 0; pages < 20; pages++) {
    seen.push(...page.data.map((run) => run.id));
    if (page.data.length < 2 && page.hasNextPage()) short = true;
    if (!page.hasNextPage()) break;
    page = await page.getNextPage();
  }
  if (!short) throw new Error("no short page with next set");
  const want = made.slice(0, 3).sort().join();
  if (seen.sort().join() !== want) throw new Error(`saw ${seen.join()} instead of ${want}`);
});

// A 429 carries a reset in the future (a drained bucket), which the SDK reads.
await step("429: reset in the future", async () => {
  await sim("faults", { ratelimit_storm: true });
  try {
    const sent = Date.now();
    const error = await refused(429, () => queues.list());
    const reset = Number(error.headers?.["x-ratelimit-reset"]);
    if (!(reset > sent)) throw new Error(`reset ${reset} is not after the request (${sent})`);
    if (typeof error.millisecondsUntilReset !== "number") throw new Error("no millisecondsUntilReset");
  } finally {
    await sim("faults", { ratelimit_storm: false });
  }
});

// An unknown token is a 500 (the presenter throws), not a 404.
await step("unknown token: 500", () => refused(500, () => wait.retrieveToken("waitpoint_cm0000000000000000nosuch")));

for (const [name, state] of results) console.log(`${state.padEnd(4)} ${name}`);
const failed = results.filter(([, s]) => s !== "ok").length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
