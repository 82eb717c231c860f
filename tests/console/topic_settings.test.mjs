// A topic's settings page in a real browser (Debian's headless Chromium, driven by
// playwright-core), against a running kafka-orders: the built-in broker by default, or the
// Kafka in KAFKA_BROKERS. What the page changes is checked in Kafka too, with another client
// (kafka_tool.py), and the dark theme and the phone layout are checked and photographed.
// Screenshots go to artifacts/console/ (git-ignored).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { eventually, shots, start } from "./harness.mjs";

let app, browser, page, ports;

before(async () => {
  app = await start();
  ({ browser, page, ports } = app);
});

after(async () => {
  await app?.stop();
});

const open = (p) => app.open(p);
const topic = `settings-demo-${Date.now()}`;

// The topic's own configs as Kafka describes them to another client (confluent-kafka).
const kafkaConfigs = () => app.kafkaTool("configs", topic);

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
  assert.deepEqual(kafkaConfigs(), { "retention.ms": "3600000", "retention.bytes": "1048576" });
  await page.screenshot({ path: path.join(shots, "settings.png"), fullPage: true });

  await saveRetention("", "1048576");
  assert.match(await page.locator(".notice").innerText(), /retention\.ms back to the default/);
  await page.reload();
  assert.doesNotMatch(await row("retention.ms"), /3600000/);
  assert.notEqual(await source("retention.ms"), "topic");
  assert.equal(await page.inputValue("#retention input[name='retention.ms']"), "");
  assert.deepEqual(kafkaConfigs(), { "retention.bytes": "1048576" });

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
