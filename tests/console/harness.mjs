// What every console test file shares: a kafka-orders of its own (the built-in broker, or the
// Kafka in KAFKA_BROKERS with KAFKA_PROPERTIES as -X flags) on free ports, headless Chromium
// (Debian's, driven by playwright-core), the screenshots folder, and kafka_tool.py, which
// checks in Kafka itself what the console did, with a client the console does not use.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const shots = path.join(root, "artifacts", "console", process.env.KAFKA_BROKERS ? "apache-kafka" : "embedded");
mkdirSync(shots, { recursive: true });

export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });

export async function eventually(check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try { const v = await check(); if (v) return v; } catch (e) { if (Date.now() > deadline) throw e; }
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Starts kafka-orders and a browser page. `env(ports)` adds settings (it may use the ports);
// returns the ports, the page, `open(path)` on the console, the Kafka bootstrap, `kafkaTool`
// and `stop()`, which checks that kafka-orders exits 0 on SIGTERM.
export async function start(env = () => ({})) {
  const ports = {
    producer: await freePort(), api: await freePort(), console: await freePort(), broker: await freePort(), consumer: await freePort(),
  };
  const kafka = process.env.KAFKA_BROKERS;
  const bootstrap = kafka || `127.0.0.1:${ports.broker}`;
  const settings = {
    ...process.env, RUST_LOG: "warn",
    KAFKA_ORDERS_PRODUCER_LISTEN: `127.0.0.1:${ports.producer}`, KAFKA_ORDERS_ORDERS_API_LISTEN: `127.0.0.1:${ports.api}`,
    KAFKA_ORDERS_ORDERS_API_URL: `http://127.0.0.1:${ports.api}`, KAFKA_ORDERS_CONSOLE_LISTEN: `127.0.0.1:${ports.console}`,
    KAFKA_ORDERS_BROKER_LISTEN: `127.0.0.1:${ports.broker}`, KAFKA_ORDERS_CONSUMER_LISTEN: `127.0.0.1:${ports.consumer}`,
    ...env(ports),
  };
  // A secured cluster's client properties (KAFKA_PROPERTIES: key=value lines) go in as -X flags.
  const properties = process.env.KAFKA_PROPERTIES
    ? readFileSync(process.env.KAFKA_PROPERTIES, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))
    : [];
  const args = kafka ? ["--brokers", kafka, ...properties.flatMap((p) => ["-X", p])] : ["--embedded"];
  const app = spawn(path.join(root, "target/debug/kafka-orders"), args, { env: settings, stdio: "inherit" });
  await eventually(async () => (await fetch(`http://127.0.0.1:${ports.console}/healthz`)).ok);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  return {
    ports, page, browser, bootstrap,
    open: (p) => page.goto(`http://127.0.0.1:${ports.console}${p}`),
    kafkaTool: (...toolArgs) =>
      JSON.parse(execFileSync("python3", [path.join(root, "tests/console/kafka_tool.py"), ...toolArgs], {
        env: { ...process.env, BOOTSTRAP: bootstrap }, encoding: "utf8", timeout: 60_000,
      })),
    async stop() {
      await browser.close();
      const exited = new Promise((resolve) => app.on("exit", resolve));
      app.kill("SIGTERM");
      assert.equal(await exited, 0, "kafka-orders exits 0 on SIGTERM");
    },
  };
}
