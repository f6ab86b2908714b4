import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A GeTui REST v2 server on loopback that speaks the protocol of GeTui's rest_v2 documentation and
 * checks what the real one checks: the auth sign against its own appkey, master secret and the
 * timestamp sent, the `token` header, request_id (10 to 32 characters, never repeated), exactly
 * one cid, exactly one of notification / transmission / revoke, the ttl range. It can be told to
 * misbehave the ways the real one does.
 */

export interface FakeGetuiOptions {
  appId?: string;
  appKey?: string;
  masterSecret?: string;
  /** Lifetime of the tokens it issues (real GeTui: one day). */
  tokenTtlMs?: number;
}

export interface ReceivedPush {
  requestId: string;
  cid: string;
  transmission: string;
  /** The whole request body, as sent. */
  body: Record<string, any>;
  /** The token it came with: tells apart the server instances that sent pushes. */
  token: string;
}

/** A request the fake refused because it broke the protocol (not for a behaviour it was told to show). */
export interface Violation {
  path: string;
  code: number;
  msg: string;
}

type Reply = { status: number; body: string };

const MAX_CLOCK_SKEW_MS = 10 * 60_000;

export class FakeGetui {
  readonly appId: string;
  readonly appKey: string;
  readonly masterSecret: string;
  tokenTtlMs: number;
  /** Base URL to configure Glimpse with (GETUI_BASE_URL). */
  url = '';

  authCalls = 0;
  /** Push requests that reached the push handler, whatever became of them. */
  pushRequests = 0;
  /** Pushes accepted for delivery, each request_id once. */
  readonly pushes: ReceivedPush[] = [];
  /** Pushes whose request_id was seen before: dropped, as GeTui does. */
  readonly duplicates: ReceivedPush[] = [];
  readonly violations: Violation[] = [];
  /** Requests held open by `hang()` right now. */
  open = 0;
  /** The tokens those held requests came with (one per server instance). */
  readonly openTokens: string[] = [];

  private readonly server: http.Server;
  private readonly tokens = new Map<string, number>();
  private readonly requestIds = new Set<string>();
  private readonly rejectedCids = new Set<string>();
  private held: (() => void)[] = [];
  private hanging = false;
  private downFor = 0;
  private expireTokensOnce = false;
  private redirect: string | null = null;
  private scripted: Reply[] = [];

  constructor(options: FakeGetuiOptions = {}) {
    this.appId = options.appId ?? 'fakeAppId01';
    this.appKey = options.appKey ?? 'fakeAppKey01';
    this.masterSecret = options.masterSecret ?? 'fakeMasterSecret01';
    this.tokenTtlMs = options.tokenTtlMs ?? 24 * 3600_000;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Environment for a Glimpse server that pushes through this fake. */
  env(timeoutMs = 2000): Record<string, string> {
    return {
      PUSH_PROVIDER: 'getui',
      GETUI_APP_ID: this.appId,
      GETUI_APP_KEY: this.appKey,
      GETUI_MASTER_SECRET: this.masterSecret,
      GETUI_BASE_URL: this.url,
      GETUI_TIMEOUT_MS: String(timeoutMs),
    };
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2`;
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next push is answered 10001 (token expired) and every token issued so far stops working. */
  answer10001Once(): void {
    this.expireTokensOnce = true;
  }

  /** Answers 503 to every call (auth included) until `up()`, or to the next `n` calls. */
  down(n = Number.POSITIVE_INFINITY): void {
    this.downFor = n;
  }

  up(): void {
    this.downFor = 0;
  }

  /** Holds every push request open (no answer) until `release()`. */
  hang(): void {
    this.hanging = true;
  }

  /** Stops holding: held requests whose client is still waiting are answered normally. */
  release(): void {
    this.hanging = false;
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  /** Answers pushes to this cid with 20001 "target user is invalid". */
  rejectCid(cid: string): void {
    this.rejectedCids.add(cid);
  }

  /** Answers every call with 301 and this host in `data.host_list`, until `redirectTo(null)`. */
  redirectTo(url: string | null): void {
    this.redirect = url;
  }

  /** Answers the next push (after the token check) with exactly this. */
  script(status: number, body: string | Record<string, unknown>): void {
    this.scripted.push({ status, body: typeof body === 'string' ? body : JSON.stringify(body) });
  }

  /** Every accepted push's payload, parsed. */
  payloads(): Record<string, unknown>[] {
    return this.pushes.map((p) => JSON.parse(p.transmission));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const send = (r: Reply) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(r.status, { 'content-type': 'application/json;charset=utf-8' });
      res.end(r.body);
    };
    const base = `/v2/${this.appId}`;
    const path = (req.url ?? '').split('?')[0];
    const isAuth = path === `${base}/auth`;
    const isPush = path === `${base}/push/single/cid`;
    if (!isAuth && !isPush) return send(this.violation(path, 404, 404, 'not found'));
    if (req.method !== 'POST') return send(this.violation(path, 405, 405, 'method not allowed'));

    if (this.downFor > 0) {
      this.downFor -= 1;
      if (isPush) this.pushRequests += 1;
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body>503 Service Temporarily Unavailable</body></html>');
      return;
    }
    if (this.redirect) {
      return send(
        json(200, {
          code: 301,
          msg: 'domain error',
          data: { host_list: [{ domain_list: [this.redirect], priority_gap: 30 }], domain_hash: 'ab12' },
        }),
      );
    }
    if (!/^application\/json/i.test(req.headers['content-type'] ?? ''))
      return send(this.violation(path, 400, 20001, 'Content-Type is invalid'));
    let body: Record<string, any>;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(this.violation(path, 400, 20001, 'body must be JsonString'));
    }
    if (isAuth) return send(this.auth(path, body));

    this.pushRequests += 1;
    if (this.hanging) {
      const token = String(req.headers.token);
      this.open += 1;
      this.openTokens.push(token);
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        res.once('close', resolve);
      });
      this.open -= 1;
      this.openTokens.splice(this.openTokens.indexOf(token), 1);
      if (res.destroyed || req.socket.destroyed) return;
    }
    send(this.push(path, req.headers.token, body));
  }

  private auth(path: string, body: Record<string, any>): Reply {
    this.authCalls += 1;
    const { sign, timestamp, appkey } = body;
    if (appkey !== this.appKey) return this.violation(path, 400, 20001, 'appkey is invalid');
    const ts = typeof timestamp === 'string' && /^\d{13}$/.test(timestamp) ? Number(timestamp) : timestamp;
    if (typeof ts !== 'number' || !Number.isInteger(ts)) return this.violation(path, 400, 20001, 'timestamp type error');
    if (Math.abs(Date.now() - ts) > MAX_CLOCK_SKEW_MS) return this.violation(path, 400, 20001, 'timestamp is invalid');
    const expected = createHash('sha256').update(`${this.appKey}${timestamp}${this.masterSecret}`).digest('hex');
    if (sign !== expected) return this.violation(path, 400, 20001, 'sign is invalid');
    const token = randomBytes(32).toString('hex');
    const expireAt = Date.now() + this.tokenTtlMs;
    this.tokens.set(token, expireAt);
    return json(200, { code: 0, msg: 'success', data: { expire_time: String(expireAt), token } });
  }

  private push(path: string, token: string | string[] | undefined, body: Record<string, any>): Reply {
    const expireAt = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (this.expireTokensOnce) {
      this.expireTokensOnce = false;
      this.tokens.clear();
      return json(401, { code: 10001, msg: 'token expired' });
    }
    if (expireAt === undefined || expireAt <= Date.now()) return this.violation(path, 401, 10001, 'token is invalid or expired');
    const scripted = this.scripted.shift();
    if (scripted) return scripted;

    const { request_id: requestId, audience, push_message: message, settings } = body;
    if (typeof requestId !== 'string' || requestId.length < 10 || requestId.length > 32)
      return this.violation(path, 400, 20001, 'request_id is invalid');
    const cids = audience?.cid;
    if (!Array.isArray(cids) || cids.length === 0) return this.violation(path, 400, 20001, 'cid can not be empty');
    if (cids.length !== 1) return this.violation(path, 400, 20001, 'cid size over limit');
    if (typeof cids[0] !== 'string' || !cids[0]) return this.violation(path, 400, 20001, 'cid type error');
    const kinds = ['notification', 'transmission', 'revoke'].filter((k) => message?.[k] !== undefined);
    if (kinds.length !== 1) return this.violation(path, 400, 20001, 'please choose one of notification and transmission and revoke');
    if (message.transmission !== undefined && (typeof message.transmission !== 'string' || message.transmission.length > 3072)) {
      return this.violation(path, 400, 20001, 'transmission is invalid');
    }
    if (settings?.ttl !== undefined && (!Number.isInteger(settings.ttl) || settings.ttl < -1 || settings.ttl > 259_200_000)) {
      return this.violation(path, 400, 20001, 'ttl is invalid');
    }
    const cid = cids[0];
    if (this.rejectedCids.has(cid)) return json(400, { code: 20001, msg: 'target user is invalid' });
    const received: ReceivedPush = { requestId, cid, transmission: message.transmission, body, token: token as string };
    const taskId = `RASS_${createHash('md5').update(requestId).digest('hex').slice(0, 24)}`;
    if (this.requestIds.has(requestId)) this.duplicates.push(received);
    else {
      this.requestIds.add(requestId);
      this.pushes.push(received);
    }
    return json(200, { code: 0, msg: '', data: { [taskId]: { [cid]: 'successed_offline' } } });
  }

  private violation(path: string, status: number, code: number, msg: string): Reply {
    this.violations.push({ path, code, msg });
    return json(status, { code, msg });
  }
}

function json(status: number, body: unknown): Reply {
  return { status, body: JSON.stringify(body) };
}
