import net from 'node:net';

/**
 * How a cut looks to the client:
 * - `reset`: every connection is reset at once and new ones are reset as they arrive (the
 *   server went away: the client learns it immediately);
 * - `blackhole`: connections stay open but nothing crosses any more, and new ones are accepted
 *   and never answered (a dead network: only the client's own timeouts notice).
 */
export type CutMode = 'reset' | 'blackhole';

export interface TcpProxy {
  host: string;
  port: number;
  /** `url` (mysql://…, http://…) with its host and port replaced by the proxy's. */
  via(url: string): string;
  /** Makes the target unreachable through the proxy until `restore`. */
  cut(mode?: CutMode): void;
  /** Forwards again; connections held by a blackhole are closed (their streams are broken). */
  restore(): void;
  /** Connections currently open through the proxy (forwarding or held). */
  readonly openConnections: number;
  stop(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Caught by a blackhole: open, but forwarding nothing. */
  held: boolean;
}

/**
 * A loopback TCP proxy in front of a server (MariaDB, S3, anything), for fault tests that cut
 * the network between Glimpse and a part it depends on and then restore it.
 */
export async function startTcpProxy(target: { host: string; port: number }, opts: { port?: number } = {}): Promise<TcpProxy> {
  let mode: 'forward' | CutMode = 'forward';
  const pairs = new Set<Pair>();

  const close = (p: Pair, reset: boolean) => {
    pairs.delete(p);
    for (const s of [p.client, p.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  };

  const hold = (p: Pair) => {
    p.held = true;
    // Read and drop whatever arrives, so that nothing reaches the other side and no buffer fills.
    p.client.unpipe();
    p.upstream?.unpipe();
    p.client.removeAllListeners('data').on('data', () => undefined);
    p.upstream?.removeAllListeners('data').on('data', () => undefined);
    p.client.resume();
    p.upstream?.resume();
  };

  const server = net.createServer((client) => {
    const pair: Pair = { client, held: false };
    pairs.add(pair);
    client.on('error', () => close(pair, false));
    client.on('close', () => close(pair, false));
    if (mode === 'reset') return close(pair, true);
    if (mode === 'blackhole') return hold(pair);
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => close(pair, true));
    upstream.on('close', () => close(pair, false));
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut(how: CutMode = 'reset') {
      mode = how;
      for (const p of [...pairs]) {
        if (how === 'reset') close(p, true);
        else hold(p);
      }
    },
    restore() {
      mode = 'forward';
      for (const p of [...pairs]) if (p.held) close(p, false);
    },
    get openConnections() {
      return pairs.size;
    },
    async stop() {
      for (const p of [...pairs]) close(p, false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
