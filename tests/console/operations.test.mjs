// The console's operations in a real browser (Debian's headless Chromium, playwright-core):
// consumer-group resets and deletes, dead-letter redrive, re-send, export, binary values and
// filters. Each effect is checked in Kafka itself with another client (kafka_tool.py, on
// confluent-kafka) or in the Orders API, not only on the page. Runs against the built-in
// broker, or the Kafka in KAFKA_BROKERS (with KAFKA_PROPERTIES for the secured cluster).
//
// Between the consumer and the real Orders API sits a small proxy that refuses every new
// order with 422 while `broken` is set: the "cause" that sends orders to the dead-letter
// topic, fixed when it is cleared, as a bad deploy of the Orders API would be.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { eventually, shots, start } from "./harness.mjs";

let app, page, ports, proxy;
let broken = true;
const run = Date.now();

before(async () => {
  proxy = http.createServer((req, res) => {
    if (broken && req.method === "POST") {
      res.writeHead(422, { "content-type": "application/problem+json" });
      res.end(JSON.stringify({ title: "Refused by the test's broken deploy", status: 422 }));
      return;
    }
    const upstream = http.request({ host: "127.0.0.1", port: ports.api, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    upstream.on("error", () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  app = await start(() => ({
    KAFKA_ORDERS_ORDERS_API_URL: `http://127.0.0.1:${proxy.address().port}`,
    // Topics of their own, so runs on a shared Kafka do not see each other's dead letters.
    KAFKA_ORDERS_TOPIC: `ops-orders-${run}`, KAFKA_ORDERS_GROUP: `ops-consumer-${run}`,
  }));
  ({ page, ports } = app);
  page.on("dialog", (dialog) => dialog.accept());
});

after(async () => {
  await app?.stop();
  proxy?.close();
});

const open = (p) => app.open(p);
const kafkaTool = (...args) => app.kafkaTool(...args);
// The notice a form action left, or a failure that says what the page said instead.
async function notice() {
  await page.waitForSelector(".notice, .error");
  if (await page.locator(".error").count()) throw new Error(`the page says: ${await page.locator(".error").innerText()}`);
  return page.locator(".notice").innerText();
}
const topic = () => `ops-orders-${run}`;
const dlq = () => `${topic()}.dlq`;
const order = (user) => ({ userId: user, products: [{ id: "p-1", name: "Pen", price: 2.5, quantity: 2 }], totalAmount: 5 });
const postOrder = async (user) => {
  const r = await fetch(`http://127.0.0.1:${ports.producer}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order(user)) });
  assert.equal(r.status, 202);
  return (await r.json()).id;
};
const storedStatus = async (id) => (await fetch(`http://127.0.0.1:${ports.api}/orders/${id}`)).status;

const deadLetterCount = async () => { await open("/"); return Number(await page.locator("#dead-letter-count b").innerText()); };

test("dead letters are listed and redriven once each after the cause is fixed", async () => {
  const before = await deadLetterCount(); // a shared Kafka may hold other runs' dead letters
  const first = await postOrder("dlq-user-1");
  const second = await postOrder("dlq-user-2");
  await eventually(async () => {
    await open(`/dead-letters?topic=${dlq()}`);
    return (await page.locator("#dead-letters tbody tr").count()) === 2;
  }, 60);
  const text = await page.locator("#dead-letters").innerText();
  assert.match(text, /422/);
  assert.match(text, new RegExp(`${topic()}/\\d+ @\\d+`));
  assert.equal(await deadLetterCount(), before + 2);
  await page.click("#dead-letter-count");
  assert.match(page.url(), /\/dead-letters/);

  // Two letters the console must not send back: one cut to fit the topic, one naming another
  // topic as its origin (a redrive writes only to the topic its dead-letter topic belongs to).
  const hex = Buffer.from("{}").toString("hex");
  kafkaTool("produce", dlq(), "cut", hex, `dlq-origin-topic=${topic()}`, "dlq-origin-partition=0", "dlq-origin-offset=0", "dlq-truncated=99999", "dlq-error=too large");
  kafkaTool("produce", dlq(), "elsewhere", hex, "dlq-origin-topic=somebody-elses-topic", "dlq-origin-partition=0", "dlq-origin-offset=0", "dlq-error=x");
  await open(`/dead-letters?topic=${dlq()}`);
  assert.equal(await page.locator("#dead-letters td.state", { hasText: "cannot be redriven" }).count(), 2);

  broken = false; // the cause is fixed
  await open(`/dead-letters?topic=${dlq()}`);
  const row = page.locator("#dead-letters tbody tr", { hasText: "dlq-user-1" });
  await row.locator("input[name=pick]").check();
  // The same dead letter picked twice (as a hand-made form could), and a double click.
  await page.evaluate(() => {
    const pick = document.querySelector("input[name=pick]:checked");
    const again = Object.assign(document.createElement("input"), { type: "hidden", name: "pick", value: pick.value });
    document.getElementById("redrive").appendChild(again);
  });
  await page.locator("button", { hasText: "Redrive selected" }).dblclick();
  assert.match(await notice(), /redrove 1 dead letter/);
  await eventually(async () => (await storedStatus(first)) === 200);
  assert.equal(await storedStatus(second), 404, "only the selected one was sent back");
  await page.screenshot({ path: path.join(shots, "dead-letters.png"), fullPage: true });

  await page.locator("button", { hasText: "Redrive all" }).click();
  const all1 = await notice();
  assert.match(all1, /redrove 1 dead letter/);
  assert.match(all1, /not sent: .*cut to fit/);
  assert.match(all1, /not sent: .*names somebody-elses-topic as its origin/);
  await eventually(async () => (await storedStatus(second)) === 200);
  await page.locator("button", { hasText: "Redrive all" }).click();
  assert.match(await notice(), /redrove 0 dead letter/);
  assert.equal(await page.locator("#dead-letters td.state", { hasText: /^redriven / }).count(), 2);

  // In Kafka: each dead letter went back once, with its redrive count; the orders stored once.
  const resent = kafkaTool("read", topic()).filter((m) => m.headers.some(([k]) => k === "redrive-count"));
  assert.equal(resent.length, 2, JSON.stringify(resent));
  for (const m of resent) {
    assert.deepEqual(m.headers.find(([k]) => k === "redrive-count"), ["redrive-count", "1"]);
    assert.ok(!m.headers.some(([k]) => k.startsWith("dlq-")), "the dead-letter headers are not sent back");
  }
  const all = await (await fetch(`http://127.0.0.1:${ports.api}/orders?limit=1000`)).json();
  assert.equal(all.filter((o) => o.id === first || o.id === second).length, 2);
  assert.equal(await deadLetterCount(), before + 2, "the two that cannot be sent still wait");
});

test("a group's offsets are previewed, reset, deleted, and the group deleted; an active group is refused", async () => {
  // The service's own group has a member: a reset is refused with the reason.
  await open(`/groups/ops-consumer-${run}/reset?to=earliest`);
  assert.match(await page.locator(".error").innerText(), /active member/);
  assert.equal(await page.locator("#apply").count(), 0);

  const group = `ops-group-${run}`;
  const stored = kafkaTool("read", topic());
  const partitions = [...new Set(stored.map((m) => m.partition))];
  const count = (p) => stored.filter((m) => m.partition === p).length;
  const ends = Object.fromEntries(partitions.map((p) => [p, Math.max(...stored.filter((m) => m.partition === p).map((m) => m.offset)) + 1]));
  kafkaTool("commit", group, topic(), ...partitions.map((p) => `${p}:${ends[p]}`));
  await open(`/groups/${group}`);
  await page.selectOption("#reset select[name=topic]", topic());
  await page.selectOption("#reset select[name=to]", "earliest");
  await page.click("#reset button");
  const preview = await page.locator("#preview").innerText();
  assert.match(preview, /Lag after/);
  await page.screenshot({ path: path.join(shots, "group-reset.png"), fullPage: true });
  await page.click("#apply button");
  assert.match(await notice(), /reset \d+ partition offset/);
  const reset = kafkaTool("committed", group, topic());
  for (const p of partitions) assert.equal(reset[p], 0, JSON.stringify(reset));

  // One partition (the one with most messages, at least 2 of the 4) to an offset, then +1.
  const p = partitions.reduce((a, b) => (count(b) > count(a) ? b : a));
  await open(`/groups/${group}/reset?topic=${topic()}&partition=${p}&to=offset&value=1`);
  await page.click("#apply button");
  assert.match(await notice(), /reset 1 partition offset/);
  await open(`/groups/${group}/reset?topic=${topic()}&partition=${p}&to=shift&value=1`);
  assert.match(await page.locator("#preview td.new").first().innerText(), /^2$/);
  const replay = await page.evaluate(() => Object.fromEntries(new FormData(document.getElementById("apply"))));
  await page.click("#apply button");
  assert.match(await notice(), /reset 1 partition offset/);
  assert.equal(kafkaTool("committed", group, topic())[p], 2);
  // The same Apply sent again (a second tab, Back then Apply): refused, not shifted twice.
  await page.evaluate(([fields, action]) => {
    const form = Object.assign(document.createElement("form"), { method: "post", action });
    for (const [name, value] of Object.entries(fields)) {
      form.appendChild(Object.assign(document.createElement("input"), { type: "hidden", name, value }));
    }
    document.body.appendChild(form);
    form.submit();
  }, [replay, `/groups/${group}/reset`]);
  await page.waitForSelector(".error");
  assert.match(await page.locator(".error").innerText(), /is 2 now, not 1 as previewed/);
  assert.equal(kafkaTool("committed", group, topic())[p], 2);

  await open(`/groups/${group}/reset?to=datetime&value=yesterday`);
  assert.match(await page.locator(".error").innerText(), /value: "yesterday" is not a date and time/);

  await open(`/groups/${group}`);
  await page.selectOption("#delete-offsets select[name=topic]", topic());
  await page.click("#delete-offsets button");
  // The built-in broker forgets an empty group with no offsets at once (the page says so too).
  assert.match(await page.locator(".notice").innerText(), /deleted group .*'s offsets/);
  const gone = kafkaTool("committed", group, topic());
  for (const q of partitions) assert.equal(gone[q], null, JSON.stringify(gone));

  kafkaTool("commit", group, topic(), `${p}:1`);
  await open(`/groups/${group}`);
  await page.click("#delete-group button");
  assert.match(await notice(), new RegExp(`deleted group ${group}`));
  assert.equal(kafkaTool("committed", group, topic())[p], null);
});

test("binary values show as hex; a message is re-sent, filtered and exported", async () => {
  const name = `ops-messages-${run}`;
  await open("/topics");
  await page.fill("input[name=name]", name);
  await page.fill("input[name=partitions]", "1");
  await page.click("text=Create topic");
  assert.match(await notice(), /created topic/);
  kafkaTool("produce", name, "bin-key", "ff00c3", "kind=binary");
  kafkaTool("produce", name, "text-key", Buffer.from('{"n": 1}').toString("hex"), "kind=text", "trace=abc");
  await open(`/topics/${name}`);
  assert.match(await page.locator("#messages pre.hex").first().innerText(), /hex: ff 00 c3/);

  // Re-send the text one: the form comes filled, and the copy lands in Kafka the same.
  await page.locator("#messages tbody tr", { hasText: "text-key" }).locator("a.resend").click();
  assert.equal(await page.inputValue("input[name=key]"), "text-key");
  assert.match(await page.inputValue("textarea[name=headers]"), /trace: abc/);
  await page.locator("button", { hasText: /^Send$/ }).click();
  assert.match(await notice(), /sent to partition \d+ at offset 2/);
  const copies = kafkaTool("read", name).filter((m) => m.key === "text-key");
  assert.equal(copies.length, 2);
  assert.deepEqual(copies[1].headers, copies[0].headers);
  assert.equal(copies[1].value, copies[0].value);

  await open(`/topics/${name}?header=kind%3Dbinary`);
  assert.equal(await page.locator("#messages tbody tr").count(), 1);
  await open(`/topics/${name}?until=2001-01-01T00:00`);
  assert.equal(await page.locator("#messages tbody tr").count(), 0);
  await open(`/topics/${name}?from=bogus`);
  assert.match(await page.locator(".error").innerText(), /from: "bogus" is not a date and time/);

  await open(`/topics/${name}`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-jsonl")]);
  const lines = (await (await import("node:fs/promises")).readFile(await download.path(), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  const binary = lines.find((l) => l.key === "bin-key");
  assert.equal(binary.value, null);
  assert.equal(Buffer.from(binary.valueBase64, "base64").toString("hex"), "ff00c3");
  const csv = await (await fetch(`http://127.0.0.1:${ports.console}/topics/${name}/export?format=csv`)).text();
  assert.match(csv.split("\n")[0], /^topic,partition,offset,timestamp,key,headers,value$/);
  assert.match(csv, /"hex: ff 00 c3"/);
  await page.screenshot({ path: path.join(shots, "messages.png"), fullPage: true });

  // A page on another origin cannot make the browser pull exports from the console.
  const exportUrl = `http://127.0.0.1:${ports.console}/topics/${name}/export`;
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<script>fetch(${JSON.stringify(exportUrl)}, { mode: "no-cors" })</script>`);
  });
  await new Promise((resolve) => evil.listen(0, "127.0.0.1", resolve));
  try {
    const answer = page.waitForResponse((r) => r.url() === exportUrl);
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    assert.equal((await answer).status(), 403);
  } finally {
    evil.close();
  }
});
