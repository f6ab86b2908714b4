import { createHash } from 'node:crypto';
import type { Logger } from '../logger';
import { MAX_PUSH_TTL_MS, PushMessage, PushProvider, PushResult } from './push-provider';

/**
 * GeTui REST API v2 ("the reference": GeTui's rest_v2 documentation and its official Java SDK,
 * summed up in docs/architecture.md, "GeTui"): a cached token, one push per call
 * to `POST /push/single/cid`, and every reply classified as sent, retry later or give up.
 */

export interface GetuiClientOptions {
  appId: string;
  appKey: string;
  masterSecret: string;
  /** e.g. https://restapi.getui.com/v2 (`/v2` is added when missing, as the official SDKs do). */
  baseUrl: string;
  /** Each call, connect and body included, is abandoned after this long. */
  timeoutMs: number;
  log?: Logger;
}

/** A token this close to its expiry is replaced before use, as the Java SDK does. */
export const TOKEN_REFRESH_MARGIN_MS = 3600_000;
/** GeTui limits some calls per minute (10003, 10005) without saying more; wait out the minute. */
const RATE_LIMIT_PAUSE_MS = 60_000;
const REQUEST_ID = /^[A-Za-z0-9_-]{10,32}$/;

export interface GetuiEnvelope {
  code: number;
  msg?: string;
  data?: unknown;
}

/** What one HTTP call came to: a GeTui reply, or a transport-level verdict. */
export type GetuiReply =
  { kind: 'reply'; status: number; body: GetuiEnvelope } | { kind: 'retry'; reason: string } | { kind: 'fatal'; reason: string };

class GetuiAuthError extends Error {
  constructor(readonly result: PushResult & { outcome: 'retry' | 'give-up' }) {
    super(result.reason);
  }
}

export class GetuiClient implements PushProvider {
  private base: string;
  private token: { value: string; expireAt: number } | null = null;
  private authing: Promise<string> | null = null;

  constructor(private readonly options: GetuiClientOptions) {
    this.base = normaliseBase(options.baseUrl);
  }

  get description(): string {
    return `getui ${this.base}`;
  }

  async send(m: PushMessage): Promise<PushResult> {
    if (!REQUEST_ID.test(m.requestId))
      return { outcome: 'give-up', reason: `request_id must be 10 to 32 letters or digits, got ${m.requestId.length} characters` };
    try {
      const reply = await this.call('/push/single/cid', singlePushBody(m), true);
      return classifyPushReply(reply, m.cid);
    } catch (e) {
      if (e instanceof GetuiAuthError) return e.result;
      throw e;
    }
  }

  /** When the cached token expires (ms since the epoch), or null before the first auth. */
  tokenExpiresAt(): number | null {
    return this.token?.expireAt ?? null;
  }

  /**
   * One API call with what the reference asks of a client: the `token` header, one re-auth and
   * one retry on 10001, one host switch and one retry on 301.
   */
  private async call(path: string, body: unknown, needToken: boolean): Promise<GetuiReply> {
    let token = needToken ? await this.currentToken() : undefined;
    let reauthed = false;
    let switched = false;
    for (;;) {
      const reply = await this.post(path, body, token);
      if (reply.kind !== 'reply') return reply;
      if (reply.body.code === 10001 && needToken && !reauthed) {
        reauthed = true;
        token = await this.currentToken(token);
        continue;
      }
      if (reply.body.code === 301 && !switched) {
        const next = hostFrom(reply.body.data, this.base);
        if (!next) return reply;
        switched = true;
        this.options.log?.warn({ from: this.base, to: next }, 'GeTui asked for another host (301); switching');
        this.base = next;
        continue;
      }
      return reply;
    }
  }

  /**
   * A token with more than an hour left. Concurrent callers share one `/auth` call (GeTui allows
   * 100 a minute). `stale` is a token GeTui just refused: if another caller has replaced it
   * meanwhile, that replacement is used instead of asking again.
   */
  private currentToken(stale?: string): Promise<string> {
    const t = this.token;
    if (t && t.value !== stale && t.expireAt - Date.now() > TOKEN_REFRESH_MARGIN_MS) return Promise.resolve(t.value);
    if (!this.authing) {
      this.authing = this.auth().finally(() => {
        this.authing = null;
      });
    }
    return this.authing;
  }

  private async auth(): Promise<string> {
    const timestamp = Date.now();
    const { appKey, masterSecret } = this.options;
    const sign = createHash('sha256').update(`${appKey}${timestamp}${masterSecret}`, 'utf8').digest('hex');
    const reply = await this.call('/auth', { sign, timestamp, appkey: appKey }, false);
    if (reply.kind !== 'reply') throw new GetuiAuthError({ outcome: 'retry', reason: `auth: ${reply.reason}` });
    const { code, msg, data } = reply.body;
    const d = data as { token?: unknown; expire_time?: unknown } | undefined;
    if (code === 0 && typeof d?.token === 'string' && d.token) {
      const expireAt = Number(d.expire_time);
      this.token = { value: d.token, expireAt: Number.isFinite(expireAt) ? expireAt : timestamp + 24 * 3600_000 };
      this.options.log?.debug({ expireAt: new Date(this.token.expireAt).toISOString() }, 'GeTui token refreshed');
      return d.token;
    }
    const reason = `auth: GeTui ${code}${msg ? ` ${msg}` : ''}`;
    // A blacklisted app stays blacklisted; anything else (a rate limit, a bad secret being fixed,
    // an outage) is worth another try later, and the job fails anyway after its last attempt.
    if (code === 10002) throw new GetuiAuthError({ outcome: 'give-up', reason });
    throw new GetuiAuthError({ outcome: 'retry', reason, ...(code === 10003 ? { retryAfterMs: RATE_LIMIT_PAUSE_MS } : {}) });
  }

  private async post(path: string, body: unknown, token: string | undefined): Promise<GetuiReply> {
    const url = `${this.base}/${encodeURIComponent(this.options.appId)}${path}`;
    let status: number;
    let text: string;
    try {
      // One signal for the whole exchange: a server that sends headers and then stalls the body
      // is cut off too.
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json;charset=utf-8', ...(token ? { token } : {}) },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError')
        return { kind: 'retry', reason: `no answer within ${this.options.timeoutMs} ms` };
      return { kind: 'retry', reason: `network error: ${err.cause?.code ?? err.cause?.message ?? err.message}` };
    }
    if (status >= 500) return { kind: 'retry', reason: `HTTP ${status}` };
    if (status === 404 || status === 405)
      return { kind: 'fatal', reason: `HTTP ${status} for ${path}: wrong GETUI_BASE_URL or GETUI_APP_ID?` };
    // GeTui answers its business errors with 400, 401 and 403 and a JSON body (10001 is a 401).
    if (status !== 200 && status !== 400 && status !== 401 && status !== 403) return { kind: 'retry', reason: `HTTP ${status}` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'retry', reason: `unreadable reply (HTTP ${status})` };
    }
    const code = (parsed as GetuiEnvelope | null)?.code;
    const asNumber = typeof code === 'string' ? Number(code) : code;
    if (typeof asNumber !== 'number' || !Number.isFinite(asNumber))
      return { kind: 'retry', reason: `reply without a code (HTTP ${status})` };
    return { kind: 'reply', status, body: { ...(parsed as GetuiEnvelope), code: asNumber } };
  }
}

/** The body of `POST /push/single/cid` for one push. Unset fields are left out, never null. */
export function singlePushBody(m: PushMessage): Record<string, unknown> {
  const ttl = Math.max(1, Math.min(MAX_PUSH_TTL_MS, Math.floor(m.ttlMs)));
  return {
    request_id: m.requestId,
    settings: {
      ttl,
      // Android: GeTui's channel while online, the vendor's while offline. iOS: APNs first, so
      // the alert shows on a phone whose app is not running.
      strategy: { default: 1, ios: 4 },
    },
    audience: { cid: [m.cid] },
    push_message: { transmission: m.payload },
    push_channel: {
      ios: {
        type: 'notify',
        aps: { alert: { title: m.alert.title, body: m.alert.body }, 'content-available': 1 },
        payload: m.payload,
        // A push that does get through twice replaces itself on the phone.
        'apns-collapse-id': m.requestId,
      },
      android: { ups: { notification: { title: m.alert.title, body: m.alert.body, click_type: 'startapp' } } },
    },
  };
}

/** What a push reply means for the job, per the reference's code table. */
export function classifyPushReply(reply: GetuiReply, cid?: string): PushResult {
  if (reply.kind === 'retry') return { outcome: 'retry', reason: reply.reason };
  if (reply.kind === 'fatal') return { outcome: 'give-up', reason: reply.reason };
  const { code, msg, data } = reply.body;
  const what = `GeTui ${code}${msg ? ` ${msg}` : ''}`;
  if (code === 0) return { outcome: 'sent', detail: deliveryStatus(data, cid) };
  switch (code) {
    case 2: // service starting
    case 30019: // system busy
    case 301: // a host switch did not help this time
    case 10001: // the token was refused even after a fresh one
      return { outcome: 'retry', reason: what };
    case 10003:
    case 10005:
      return { outcome: 'retry', reason: what, retryAfterMs: RATE_LIMIT_PAUSE_MS };
    case 10002: // blacklisted
    case 10004: // no permission
    case 20001: // invalid parameter, e.g. "target user is invalid"
    case 21001:
      return { outcome: 'give-up', reason: what };
  }
  if (code >= 30000 && code < 30019) return { outcome: 'give-up', reason: `${what} (quota)` };
  if (code >= 22000 && code < 24000) return { outcome: 'give-up', reason: what };
  // A code the reference does not know: try again later; the job still ends after its last attempt.
  return { outcome: 'retry', reason: what };
}

/** `{taskid: {cid: status}}` → the status of our cid (successed_online, successed_offline, ...). */
function deliveryStatus(data: unknown, cid?: string): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  for (const perCid of Object.values(data as Record<string, unknown>)) {
    if (perCid && typeof perCid === 'object') {
      const map = perCid as Record<string, unknown>;
      const status = cid !== undefined ? map[cid] : Object.values(map)[0];
      if (typeof status === 'string') return status;
    }
  }
  return undefined;
}

/** The reference's URL rule: the configured domain with `/v2` added when it is missing. */
export function normaliseBase(raw: string): string {
  let base = raw.trim().replace(/\/+$/, '');
  if (!/^[a-z]+:\/\//i.test(base)) base = `https://${base}`;
  if (!/\/v2$/.test(base)) base = `${base}/v2`;
  return base;
}

/** The host a 301 reply names (`data.host_list[0].domain_list[0]`), or null if none is usable. */
function hostFrom(data: unknown, current: string): string | null {
  const first = (data as { host_list?: { domain_list?: unknown[] }[] } | undefined)?.host_list?.[0]?.domain_list?.[0];
  if (typeof first !== 'string' || !first) return null;
  const next = normaliseBase(first);
  // Never let a reply move us from TLS to plain HTTP.
  if (current.startsWith('https://') && !next.startsWith('https://')) return null;
  try {
    new URL(next);
  } catch {
    return null;
  }
  return next === current ? null : next;
}
