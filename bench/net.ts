// `npx tsx bench/net.ts`: start, dial + request, warm request and stop times of the libp2p host on
// loopback, direct and through a relay (medians over several fresh host pairs, ms).
import '../main/polyfill.js';
import { createHost, createRelay, generateIdentity, type Host } from '../main/net/index.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const ECHO = '/conclave-bench/echo/1.0.0';
const ROUNDS = 10;
const WARM = 50;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
};

async function host(listen: string[], relays?: string[]): Promise<Host> {
  const { privateKey } = await generateIdentity();
  return createHost({ privateKey, listen, relays });
}

const figures: Record<string, number[]> = {};
const record = (name: string, ms: number): void => {
  (figures[name] ??= []).push(ms);
};

const relay = await createRelay({ listen: LOOPBACK });
for (let round = 0; round < ROUNDS; round++) {
  for (const via of ['direct', 'relay'] as const) {
    const a = await host(via === 'direct' ? LOOPBACK : [], via === 'relay' ? relay.addrs() : []);
    const b = await host(LOOPBACK);
    const [startA] = await time(() => a.start());
    record(`${via}: start (${via === 'relay' ? 'incl. reservation' : 'tcp listen'})`, startA);
    await b.start();
    await a.handle(ECHO, async (_from, msg) => msg, {
      allow: () => true,
      maxBytes: 4096,
      runOnLimitedConnection: true,
    });
    const [first] = await time(() => b.request(a.peerId, ECHO, { n: 0 }, { addrs: a.addrs() }));
    record(`${via}: dial + first request`, first);
    const warm: number[] = [];
    for (let i = 1; i <= WARM; i++) {
      warm.push((await time(() => b.request(a.peerId, ECHO, { n: i })))[0]);
    }
    record(`${via}: request on a warm connection`, median(warm));
    const [stopB] = await time(() => b.stop());
    const [stopA] = await time(() => a.stop());
    record(`${via}: stop`, Math.max(stopA, stopB));
  }
}
const [relayStop] = await time(() => relay.stop());
record('relay: stop', relayStop);

process.stdout.write(`libp2p host on loopback, medians over ${ROUNDS} host pairs (ms)\n`);
for (const [name, xs] of Object.entries(figures)) {
  process.stdout.write(`${name.padEnd(44)} ${median(xs).toFixed(2).padStart(8)}\n`);
}
