// A client in its own process, so it measures what a real client sees (not the event loop of
// the process that runs the server). Started early; reads one JSON line on stdin
// `{ query, variables, pollQuery? }`, subscribes at once, and (with `pollQuery`) sends that
// query over HTTP every 100 ms meanwhile. Prints one JSON line per event `{ at, data }`, then
// `{ done, latencies }` when the subscription ends.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [wsUrl, httpUrl, token] = process.argv.slice(2);
const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { token }, lazy: false });
const lines = createInterface({ input: process.stdin });
const first = await new Promise((resolve) => lines.once('line', resolve));
const { query, variables, pollQuery } = JSON.parse(first);
const latencies = [];
let polling = Boolean(pollQuery);
const poller = (async () => {
  while (polling) {
    const t0 = Date.now();
    await fetch(httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: pollQuery, variables }),
    }).then((r) => r.text());
    latencies.push(Date.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
})();
for await (const e of client.iterate({ query, variables })) {
  process.stdout.write(JSON.stringify({ at: Date.now(), data: e.data ?? null, errors: e.errors ?? null }) + '\n');
}
polling = false;
await poller;
process.stdout.write(JSON.stringify({ done: true, latencies }) + '\n');
await client.dispose();
lines.close();
