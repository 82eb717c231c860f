// A topic's settings page in a real browser (Debian's headless Chromium, driven by
// playwright-core), against a running kafka-orders: the built-in broker by default, or the
// Kafka in KAFKA_BROKERS. What the page changes is checked in Kafka too, with Apache Kafka's
// own kafka-configs (fixtures/kafka/kafka.sh run), and the dark theme and the phone layout are
// checked and photographed. Screenshots go to artifacts/console/ (git-ignored).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shots = path.join(root, "artifacts", "console", process.env.KAFKA_BROKERS ? "apache-kafka" : "embedded");
mkdirSync(shots, { recursive: true });

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });

let app, browser, page, ports;

async function eventually(check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try { const v = await check(); if (v) return v; } catch (e) { if (Date.now() > deadline) throw e; }
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  ports = { producer: await freePort(), api: await freePort(), console: await freePort(), broker: await freePort() };
  const kafka = process.env.KAFKA_BROKERS;
  const env = {
    ...process.env, RUST_LOG: "warn",
    KAFKA_ORDERS_PRODUCER_LISTEN: `127.0.0.1:${ports.producer}`, KAFKA_ORDERS_ORDERS_API_LISTEN: `127.0.0.1:${ports.api}`,
    KAFKA_ORDERS_ORDERS_API_URL: `http://127.0.0.1:${ports.api}`, KAFKA_ORDERS_CONSOLE_LISTEN: `127.0.0.1:${ports.console}`,
    KAFKA_ORDERS_BROKER_LISTEN: `127.0.0.1:${ports.broker}`,
  };
  // A secured cluster's client properties (KAFKA_PROPERTIES: key=value lines) go in as -X flags.
  const properties = process.env.KAFKA_PROPERTIES
    ? readFileSync(process.env.KAFKA_PROPERTIES, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))
    : [];
  const args = kafka ? ["--brokers", kafka, ...properties.flatMap((p) => ["-X", p])] : ["--embedded"];
  app = spawn(path.join(root, "target/debug/kafka-orders"), args, { env, stdio: "inherit" });
  await eventually(async () => (await fetch(`http://127.0.0.1:${ports.console}/healthz`)).ok);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  if (app) {
    const exited = new Promise((resolve) => app.on("exit", resolve));
    app.kill("SIGTERM");
    assert.equal(await exited, 0, "kafka-orders exits 0 on SIGTERM");
  }
});

const open = (p) => page.goto(`http://127.0.0.1:${ports.console}${p}`);
const topic = `settings-demo-${Date.now()}`;

// The topic's own configs as Kafka's kafka-configs prints them ("Dynamic configs for topic"),
// or null on a secured cluster: KAFKA_PROPERTIES holds librdkafka's properties, which the Java
// tool does not read, so there the page's own re-read (DescribeConfigs) is what is checked.
async function kafkaConfigs() {
  if (process.env.KAFKA_PROPERTIES) return null;
  const bootstrap = process.env.KAFKA_BROKERS || `127.0.0.1:${ports.broker}`;
  const { stdout } = await promisify(execFile)(
    path.join(root, "fixtures/kafka/kafka.sh"),
    ["run", "kafka.admin.ConfigCommand", "--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics", "--entity-name", topic],
    { timeout: 60000 },
  );
  assert.match(stdout, new RegExp(`Dynamic configs for topic ${topic}`));
  return stdout;
}

const row = (name) => page.locator(`#configs tr[data-config="${name}"]`).innerText();
const source = (name) => page.locator(`#configs tr[data-config="${name}"] td`).nth(2).innerText();

async function saveRetention(ms, bytes) {
  await page.fill("#retention input[name='retention.ms']", ms);
  await page.fill("#retention input[name='retention.bytes']", bytes);
  await page.click("text=Save retention");
}

test("the settings page sets and clears retention, in Kafka too, and names a bad field", async () => {
  await open("/topics");
  await page.fill("input[name=name]", topic);
  await page.fill("input[name=partitions]", "1");
  await page.click("text=Create topic");
  assert.match(await page.locator(".notice").innerText(), new RegExp(`created topic ${topic}`));
  await eventually(async () => { await open(`/topics/${topic}`); return !(await page.locator(".error").count()); });
  await page.click("#settings");
  assert.equal(new URL(page.url()).pathname, `/topics/${topic}/settings`);

  await saveRetention("3600000", "1048576");
  const notice = await page.locator(".notice").innerText();
  assert.match(notice, /retention\.ms set to 3600000/);
  assert.match(notice, /retention\.bytes set to 1048576/);
  // The page read it back from Kafka (DescribeConfigs) after the redirect.
  assert.match(await row("retention.ms"), /3600000\s+topic/);
  assert.match(await row("retention.bytes"), /1048576\s+topic/);
  const set = await kafkaConfigs();
  if (set !== null) {
    assert.match(set, /retention\.ms=3600000/);
    assert.match(set, /retention\.bytes=1048576/);
  }
  await page.screenshot({ path: path.join(shots, "settings.png"), fullPage: true });

  await saveRetention("", "1048576");
  assert.match(await page.locator(".notice").innerText(), /retention\.ms back to the default/);
  await page.reload();
  assert.doesNotMatch(await row("retention.ms"), /3600000/);
  assert.notEqual(await source("retention.ms"), "topic");
  assert.equal(await page.inputValue("#retention input[name='retention.ms']"), "");
  const cleared = await kafkaConfigs();
  if (cleared !== null) {
    assert.doesNotMatch(cleared, /retention\.ms=/);
    assert.match(cleared, /retention\.bytes=1048576/);
  }

  await saveRetention("abc", "");
  assert.match(await page.locator(".error").innerText(), /retention\.ms must be a whole number.*"abc"/);
  // Nothing was sent: retention.bytes is still the topic's.
  assert.match(await row("retention.bytes"), /1048576\s+topic/);
});

test("partitions are added, and Kafka refuses fewer", async () => {
  await open(`/topics/${topic}/settings`);
  await page.fill("input[name=partitions]", "3");
  await page.click("text=Add partitions");
  assert.match(await page.locator(".notice").innerText(), new RegExp(`${topic} now has 3 partitions`));
  // The topic page's partitions come from Kafka's metadata.
  await eventually(async () => {
    await open(`/topics/${topic}`);
    return (await page.locator("main table").first().locator("tbody tr").count()) === 3;
  });
  await open(`/topics/${topic}/settings`);
  await page.fill("input[name=partitions]", "2");
  await page.click("text=Add partitions");
  assert.match(await page.locator(".error").innerText(), /Kafka refused 2 partitions .*INVALID_PARTITIONS/);
});

const background = () =>
  page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });

test("the theme follows the system, and the header's switch overrides it for good", async () => {
  await page.emulateMedia({ colorScheme: "dark" });
  await open(`/topics/${topic}/settings`);
  assert.equal(await page.inputValue("#theme"), "system");
  assert.ok((await background()) < 0.2, "dark background with a dark system setting");
  await page.screenshot({ path: path.join(shots, "dark.png"), fullPage: true });
  await page.selectOption("#theme", "light");
  assert.ok((await background()) > 0.8, "light background once Light is chosen");
  await page.reload();
  assert.equal(await page.inputValue("#theme"), "light");
  assert.ok((await background()) > 0.8, "still light after a reload");
  await page.selectOption("#theme", "system");
  assert.ok((await background()) < 0.2, "back to the system's dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("on a phone the pages do not scroll sideways", async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  try {
    for (const [p, shot] of [[`/topics/${topic}`, "phone-topic.png"], [`/topics/${topic}/settings`, "phone.png"]]) {
      await phone.goto(`http://127.0.0.1:${ports.console}${p}`);
      const width = await phone.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${p} is ${width}px wide`);
      await phone.screenshot({ path: path.join(shots, shot), fullPage: true });
    }
  } finally {
    await phone.close();
  }
});
