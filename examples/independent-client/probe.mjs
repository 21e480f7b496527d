// An independent load client for the /ws/chat/<room>/ protocol, sharing no code with loadgen:
// ROOMS rooms of CLIENTS members, one sender per room sending RATE messages per second for
// SECONDS, every member timing each delivery from the moment its sender handed the message to
// the socket (Node's monotonic clock, one process). Prints deliveries, loss, p50/p90/p99/max.
//
//   node probe.mjs ws://127.0.0.1:8000 [rooms=100] [clients=50] [rate=10] [seconds=5]
import { WebSocket } from "ws";
import { performance } from "node:perf_hooks";

const [base, rooms = 100, clients = 50, rate = 10, seconds = 5] = process.argv.slice(2);
if (!base) {
  console.error("usage: node probe.mjs ws://HOST:PORT [rooms] [clients] [rate] [seconds]");
  process.exit(2);
}
const R = Number(rooms), C = Number(clients), RATE = Number(rate), SECS = Number(seconds);
const WARMUP_MS = 2000;
const run = Math.random().toString(16).slice(2, 10);
const latencies = [];
let expected = 0, delivered = 0, measuring = false;

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const members = [];
for (let r = 0; r < R; r++) {
  for (let c = 0; c < C; c++) {
    const ws = await open(`${base}/ws/chat/ind${run}_${r}/`);
    ws.on("message", (data) => {
      const now = performance.now();
      const m = /"P:(\d+):(\d+):([0-9.]+):(\d)"/.exec(data.toString());
      if (!m || m[4] !== "1") return;
      latencies.push(now - Number(m[3]));
      delivered++;
    });
    members.push({ ws, room: r, sender: c === 0 });
  }
}
console.error(`connected ${members.length}`);

const start = performance.now();
const end = start + WARMUP_MS + SECS * 1000;
for (const m of members.filter((m) => m.sender)) {
  let seq = 0;
  // Spread the senders over the first gap.
  const gap = 1000 / RATE;
  let next = start + (gap * m.room) / R;
  const tick = () => {
    const now = performance.now();
    if (now >= end) return;
    if (now >= next) {
      const measured = now >= start + WARMUP_MS ? 1 : 0;
      if (measured) expected += C;
      const t = performance.now();
      m.ws.send(`{"message":"P:${m.room}:${seq++}:${t.toFixed(3)}:${measured}"}`);
      next += gap;
    }
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
}

await new Promise((resolve) => setTimeout(resolve, end - performance.now() + 2000));
latencies.sort((a, b) => a - b);
const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN);
console.log(
  JSON.stringify({
    expected,
    delivered,
    lost: expected - delivered,
    p50_ms: +q(0.5).toFixed(3),
    p90_ms: +q(0.9).toFixed(3),
    p99_ms: +q(0.99).toFixed(3),
    max_ms: +(latencies[latencies.length - 1] ?? NaN).toFixed(3),
  }),
);
for (const m of members) m.ws.terminate();
process.exit(0);
