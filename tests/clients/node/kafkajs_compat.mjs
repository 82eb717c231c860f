// The compatibility scenario (see ../README.md) with kafkajs (pure JavaScript).
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";

const topic = `compat-kafkajs-${randomUUID().slice(0, 8)}`;
const groupId = `g-${topic}`;
const kafka = new Kafka({ clientId: "compat", brokers: [process.env.BOOTSTRAP], logLevel: logLevel.WARN });

function fail(message) {
  console.log(`FAIL kafkajs: ${message}`);
  process.exit(1);
}

async function consume(count, seen) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let got = 0;
  const positions = new Map();
  await new Promise((resolve) => {
    const timer = setTimeout(() => fail(`timed out after ${got} of ${count}`), 60000);
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (got >= count) return;
        const key = message.key.toString();
        const n = key.slice(1);
        const header = message.headers.n?.toString();
        if (message.value.toString() !== `v${n}` || header !== n) fail(`message ${key} has value ${message.value} header ${header}`);
        if (seen.has(key)) fail(`${key} delivered twice`);
        seen.add(key);
        got += 1;
        positions.set(partition, (BigInt(message.offset) + 1n).toString());
        if (got === count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.commitOffsets([...positions].map(([partition, offset]) => ({ topic, partition, offset })));
  await consumer.disconnect();
}

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
await admin.disconnect();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { n: `${i}` } }));
for (let i = 0; i < messages.length; i += 100) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) });
await producer.disconnect();
const seen = new Set();
await consume(600, seen);
await consume(400, seen);
if (seen.size !== 1000) fail(`${seen.size} distinct messages instead of 1000`);
console.log("PASS kafkajs");
process.exit(0);
