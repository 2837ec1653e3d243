// A client in its own process, so it measures what a real client sees (not the event loop of
// the process that runs the server). Started early; reads one JSON line on stdin
// `{ query, variables, pollQuery? }`, subscribes at once, and (with `pollQuery`) sends that
// query over HTTP every 100 ms meanwhile. Prints one JSON line per event `{ at, sub, data }`,
// then `{ done, latencies }` when the subscription ends.
//
// An optional fourth argument runs that many subscribers, each on its own websocket (its own
// `connection_init`, like that many browser tabs): `{ connected: n }` is printed once all are
// connected (before the query is read), every event line names its subscriber (`sub`), and
// `done` comes when every subscription has ended. `at` is Date.now() when graphql-ws hands the
// event over: the host's clock, comparable with the server process's on the same machine.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [wsUrl, httpUrl, token, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1);
let connected = 0;
let retries = 0;
/** Sockets closed after their subscriber connected, before the end: a subscription cut short. */
let dropped = 0;
let finished = false;
let everyoneConnected;
const allConnected = new Promise((resolve) => (everyoneConnected = resolve));
const clients = Array.from({ length: count }, () => {
  let once = false;
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { token },
    lazy: false,
    // A thousand sockets opened at once: the server may close some before their connection_init
    // is read (graphql-ws's 3 s init timeout, 4408). Real clients reconnect; so do these, counted.
    retryAttempts: 5,
    onNonLazyError: (err) =>
      process.stderr.write(`subscriber could not connect: ${err?.code ?? ''} ${err?.reason ?? err?.message ?? ''}\n`),
    on: {
      connected: () => {
        if (once) return;
        once = true;
        if (++connected === count) everyoneConnected();
      },
      closed: () => {
        if (!once) retries++;
        else if (!finished) dropped++;
      },
    },
  });
});
const lines = createInterface({ input: process.stdin });
const firstLine = new Promise((resolve) => lines.once('line', resolve));
if (count > 1) {
  await allConnected;
  process.stdout.write(JSON.stringify({ connected, retries }) + '\n');
}
const { query, variables, pollQuery } = JSON.parse(await firstLine);
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
await Promise.all(
  clients.map(async (client, sub) => {
    try {
      for await (const e of client.iterate({ query, variables })) {
        process.stdout.write(JSON.stringify({ at: Date.now(), sub, data: e.data ?? null, errors: e.errors ?? null }) + '\n');
      }
    } catch (err) {
      // A subscriber that failed is reported, not fatal to the others.
      process.stdout.write(JSON.stringify({ at: Date.now(), sub, failed: String(err?.message ?? err?.reason ?? err) }) + '\n');
    }
  }),
);
polling = false;
finished = true;
await poller;
process.stdout.write(JSON.stringify({ done: true, latencies, dropped }) + '\n');
await Promise.all(clients.map((c) => c.dispose()));
lines.close();
