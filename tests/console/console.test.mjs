// The console in a real browser (Debian's headless Chromium, driven by playwright-core),
// against a running kafka-orders: the built-in broker by default, or the Kafka in
// KAFKA_BROKERS. Screenshots go to artifacts/console/ (git-ignored) for a person to look at.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { eventually, shots, start } from "./harness.mjs";

let app, page, ports;
const order = { userId: "user123", products: [{ id: "prod-1", name: "Product 1", price: 19.99, quantity: 2 }], totalAmount: 39.98 };
const postOrder = () =>
  fetch(`http://127.0.0.1:${ports.producer}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });

before(async () => {
  app = await start();
  ({ page, ports } = app);
});

after(async () => {
  await app?.stop();
});

const open = (p) => app.open(p);

test("orders-topic is listed after an order is posted", async () => {
  assert.equal((await postOrder()).status, 202);
  await eventually(async () => { await open("/"); return (await page.locator("#topics").innerText()).includes("orders-topic"); });
  // Size comes from DescribeLogDirs; the order's batch makes it non-zero.
  const row = await eventually(async () => {
    await open("/");
    const text = await page.locator('#topics tr[data-topic="orders-topic"]').innerText();
    return /[1-9][\d.]* (B|KiB|MiB)/.test(text) && text;
  });
  assert.match(row, /orders-topic/);
  await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });
});

test("the message shows its JSON", async () => {
  await open("/topics/orders-topic");
  const value = page.locator("#messages pre.json").first();
  const text = await value.innerText();
  assert.match(text, /"userId": "user123"/);
  assert.match(text, /"price": 19.99/);
  await page.screenshot({ path: path.join(shots, "topic.png"), fullPage: true });
});

test("the orders-consumer group reaches lag 0", async () => {
  await eventually(async () => {
    await open("/groups");
    const group = page.locator("#group-orders-consumer");
    if (!(await group.count())) return false;
    const summary = await page.locator("#group-orders-consumer + p").innerText();
    return /State Stable/.test(summary) && /total lag 0/.test(summary);
  }, 60);
  await page.screenshot({ path: path.join(shots, "groups.png"), fullPage: true });
});

test("a topic is created and the produce form puts a message on it", async () => {
  const name = `console-demo-${Date.now()}`;
  await open("/topics");
  await page.fill("input[name=name]", name);
  await page.fill("input[name=partitions]", "2");
  await page.click("text=Create topic");
  assert.match(await page.locator(".notice").innerText(), new RegExp(`created topic ${name}`));
  await eventually(async () => { await open(`/topics/${name}`); return !(await page.locator(".error").count()); });
  await page.fill("input[name=key]", "greeting");
  await page.fill("textarea[name=headers]", "source: console-test");
  await page.fill("textarea[name=value]", '{"hello": "world"}');
  await page.locator("button", { hasText: /^Send$/ }).click();
  assert.match(await page.locator(".notice").innerText(), /sent to partition \d+ at offset 0/);
  const row = page.locator("#messages tbody tr").first();
  assert.match(await row.innerText(), /greeting/);
  assert.match(await row.innerText(), /source: console-test/);
  assert.match(await row.innerText(), /"hello": "world"/);
  await page.fill("textarea[name=value]", "{not json");
  await page.locator("button", { hasText: /^Send$/ }).click();
  assert.match(await page.locator(".error").innerText(), /not valid JSON/);
  await page.screenshot({ path: path.join(shots, "produce.png"), fullPage: true });
});

test("a page on another site cannot delete a topic through the user's browser", async () => {
  // The attacker's page: another origin (another port), a form that posts itself to the
  // console's delete action as soon as it loads, the way a cross-site request forgery works.
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<form id="f" method="post" action="http://127.0.0.1:${ports.console}/topics/orders-topic/delete">
      <input name="csrf" value="guessed"></form><script>document.getElementById("f").submit()</script>`);
  });
  await new Promise((resolve) => evil.listen(0, "127.0.0.1", resolve));
  try {
    const answer = page.waitForResponse((r) => r.url().endsWith("/topics/orders-topic/delete"));
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    const response = await answer;
    assert.equal(response.status(), 403);
    assert.match(await page.locator(".error").innerText(), /another (site|origin)/);
  } finally {
    evil.close();
  }
  await open("/topics");
  assert.equal(await page.locator('#topics tr[data-topic="orders-topic"]').count(), 1, "orders-topic is still there");
  // Deleting from the console's own page asks first; answering no keeps the topic.
  page.once("dialog", (dialog) => dialog.dismiss());
  await page.locator('#topics tr[data-topic="orders-topic"] button.danger').click();
  await open("/topics");
  assert.equal(await page.locator('#topics tr[data-topic="orders-topic"]').count(), 1);
});

test("live follow shows a new order without reloading", async () => {
  await open("/topics/orders-topic");
  const rows = await page.locator("#messages tbody tr").count();
  await page.check("#follow");
  await page.waitForTimeout(1500);
  assert.equal((await postOrder()).status, 202);
  await page.locator("#messages tbody tr.live").first().waitFor({ timeout: 20000 });
  assert.equal(await page.locator("#messages tbody tr").count(), rows + 1);
});

test("bad input gets a clear message, not a blank page", async () => {
  const missing = await open("/topics/no-such-topic-here");
  assert.equal(missing.status(), 404);
  assert.match(await page.locator(".error").innerText(), /does not exist/);
  await open("/topics/orders-topic?before=abc");
  assert.match(await page.locator(".error").innerText(), /before must be a whole number/);
  await open("/topics/orders-topic?partition=99");
  assert.match(await page.locator(".error").innerText(), /no partition 99/);
  await page.screenshot({ path: path.join(shots, "error.png"), fullPage: true });
});

test("the orders page shows stats and charts", async () => {
  await open("/orders");
  assert.ok(Number(await page.locator("#total-orders").innerText()) >= 1);
  assert.ok(await page.locator("svg.chart").count() >= 2);
  await page.screenshot({ path: path.join(shots, "orders.png"), fullPage: true });
});
