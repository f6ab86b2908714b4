import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'chai';
import fc from 'fast-check';
import { Image } from '../../src/entities/image.entity';
import { Message } from '../../src/entities/message.entity';
import { ApiClient, httpGet, steppedUpload } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { Probe, probes, ProbeTarget } from '../support/malformed-requests';
import { buildMultipart, multipartCase } from '../support/multipart-fuzz';
import { rawExchange, RawOutcome, requestHead } from '../support/raw-http';
import { STACKS, startStack, TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/** Printed, and settable with FC_SEED, so that a failing run can be replayed. */
const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31);
const GENERATED = Number(process.env.ROBUSTNESS_RUNS ?? 800);
/** The hang detector: far beyond any answer's time, so it only fails a request that never ends. */
const HANG_MS = 10_000;
/** Small, so that bodies over the limit are cheap to send. */
const MAX_IMAGE_BYTES = 256 * 1024;

/** What no answer may show: stack traces, file paths, SQL, driver errors. */
const INTERNAL =
  /node_modules|\/work\/|\/tmp\/|\/root\/|\bat [\w$.<>]+ \(|stacktrace|\b(SELECT|INSERT INTO|DELETE FROM)\b|SQLITE_|\bER_[A-Z_]{3,}|QueryFailedError|TypeError|ReferenceError|RangeError|minio|s3rver/i;

/** Every `extensions.code` the server answers with (docs/errors.md lists them). */
const KNOWN_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'GONE',
  'RANGE_NOT_SATISFIABLE',
  'BAD_USER_INPUT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'INTERNAL_SERVER_ERROR',
  'REGISTRATION_LOCKED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

interface Judged {
  problem: string | null;
  /** Sends the answer reports as done. */
  sends: number;
}

/** Checks one outcome against what every request must get; counts the sends it reports. */
function judge(label: string, outcome: RawOutcome, expected: { mayClose?: boolean; status?: number[]; code?: string } = {}): Judged {
  const none = (problem: string | null): Judged => ({ problem: problem && `${label}: ${problem}`, sends: 0 });
  if (outcome.kind === 'hung') return none(`no answer within ${HANG_MS} ms (got ${JSON.stringify(outcome.partial.slice(0, 120))})`);
  if (outcome.kind === 'closed') return none(expected.mayClose ? null : 'the connection closed without an answer');
  const answers = [outcome.answer, ...outcome.extra];
  for (const a of answers) {
    if (a.status >= 500) return none(`answered ${a.status}: ${a.body.slice(0, 200)}`);
    if (INTERNAL.test(a.body)) return none(`the answer shows internal detail: ${a.body.slice(0, 300)}`);
  }
  const { status, body } = outcome.answer;
  if (expected.status && !expected.status.includes(status))
    return none(`answered ${status}, expected ${expected.status.join(' or ')}: ${body.slice(0, 200)}`);
  let parsed: { data?: Record<string, { id?: number } | null> | null; errors?: { extensions?: { code?: string } }[] } | undefined;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  for (const e of parsed?.errors ?? []) {
    if (!KNOWN_CODES.has(String(e.extensions?.code))) return none(`an error without a known code: ${JSON.stringify(e).slice(0, 200)}`);
  }
  const code = parsed?.errors?.[0]?.extensions?.code;
  if (expected.code && code !== expected.code) return none(`code ${code}, expected ${expected.code}: ${body.slice(0, 200)}`);
  const sends = Object.values(parsed?.data ?? {}).filter((v) => v && typeof v === 'object' && 'id' in v).length;
  return { problem: null, sends };
}

for (const kind of STACKS) {
  describe(`robustness: no request stops the server [${kind}]`, function () {
    this.timeout(120_000);
    let stack: TestStack;
    let api: ApiClient;
    let alice: TestUser;
    let bob: TestUser;
    let target: ProbeTarget;
    /** Sends the server reported as done: each must have its row and its blob, and nothing else may. */
    let sends = 0;
    let baseline: { messages: number; images: number; blobs: string[] };

    const rows = async () => ({
      messages: await stack.server.container.db.getRepository(Message).count(),
      images: await stack.server.container.db.getRepository(Image).count(),
    });

    before(async () => {
      console.log(`      fast-check seed ${SEED} (FC_SEED=${SEED} replays it), ${GENERATED} generated requests`);
      stack = await startStack(kind, { MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) });
      api = new ApiClient(stack.url);
      [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
      const sent = await api.sendImage(alice.token, bob.uid, jpegBytes(5000));
      const key = sent.data!.sendImage.messageKey;
      const url = (await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: key }, bob.token)).data!.image
        .downloadUrl as string;
      target = { token: alice.token, receiverUid: bob.uid, maxImageBytes: MAX_IMAGE_BYTES, downloadToken: url.split('/').pop()! };
      baseline = { ...(await rows()), blobs: await stack.blobNames() };
    });
    after(() => stack?.stop());

    /** After each batch: the server still answers, and the store holds exactly the sends it reported. */
    async function expectServingAndNothingLeftOver(): Promise<void> {
      expect((await httpGet(`${stack.url}/healthz`)).status).to.equal(200);
      const now = await rows();
      expect(now, 'rows: one message and one image per reported send').to.deep.equal({
        messages: baseline.messages + sends,
        images: baseline.images + sends,
      });
      // Some S3 servers (s3rver) keep a cut-short PUT for a moment; the store deletes it again.
      await eventually(async () => expect((await stack.blobNames()).length - baseline.blobs.length).to.equal(sends), 5000);
    }

    async function runProbes(list: Probe[]): Promise<void> {
      const problems: string[] = [];
      for (const p of list) {
        const outcome = await rawExchange(stack.url, p.bytes, { timeoutMs: HANG_MS, ...p.options });
        const judged = judge(p.label, outcome, p);
        if (judged.problem) problems.push(judged.problem);
        sends += judged.sends;
      }
      expect(problems).to.deep.equal([]);
      await expectServingAndNothingLeftOver();
    }

    it('answers every hand-written malformed request (multipart, JSON, GET, downloads, headers) with a 4xx or a stable code', async () => {
      await runProbes(probes(target));
    });

    it('refuses one upload used by two sends before either runs (GRAPHQL_VALIDATION_FAILED), keeping nothing', async () => {
      const probe = probes(target).find((p) => p.label === 'multipart: one upload used by two sends')!;
      const outcome = await rawExchange(stack.url, probe.bytes, { timeoutMs: HANG_MS });
      expect(judge(probe.label, outcome, probe).problem).to.equal(null);
      expect((outcome as Extract<RawOutcome, { kind: 'answered' }>).answer.body).to.contain('can be used by one argument only');
      await expectServingAndNothingLeftOver();
    });

    it("keeps nothing of a send cut off after its file's last byte, before the closing boundary", async () => {
      const before = await rows();
      const bytes = jpegBytes(100_000);
      const upload = steppedUpload(stack.url, {
        token: alice.token,
        query: 'mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { id } }',
        variables: { r: bob.uid, size: bytes.length },
        file: bytes,
      });
      // Every byte of the file, then a pause: S3 answers a PUT of declared length once it has them.
      await upload.send();
      await new Promise((r) => setTimeout(r, 500));
      upload.abort();
      await upload.response.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
      expect(await rows()).to.deep.equal(before);
      await expectServingAndNothingLeftOver();
    });

    it(`answers ${GENERATED} generated multipart requests (fast-check; the seed is printed above)`, async function () {
      this.timeout(300_000);
      const tally = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(multipartCase, async (c) => {
          const built = buildMultipart(c, target);
          const outcome = await rawExchange(stack.url, built.bytes, {
            timeoutMs: HANG_MS,
            ...(built.delivery === 'slow' ? { pieces: 6, delayMs: 5 } : {}),
            ...(built.delivery === 'abort' ? { abortAfter: built.abortAfter } : {}),
            ...(built.framing === 'short' ? { halfClose: true } : {}),
          });
          const judged = judge('generated', outcome, {
            mayClose: built.delivery === 'abort' || built.framing === 'short' || built.framing === 'long',
          });
          sends += judged.sends;
          const seen = outcome.kind === 'answered' ? `${outcome.answer.status}${judged.sends ? ' sent' : ''}` : outcome.kind;
          tally.set(seen, (tally.get(seen) ?? 0) + 1);
          expect(judged.problem).to.equal(null);
        }),
        { seed: SEED, numRuns: GENERATED },
      );
      console.log(
        `      outcomes: ${[...tally]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')}`,
      );
      await expectServingAndNothingLeftOver();
    });

    it('refuses a multipart request without a valid token before reading its body, and the client gets the answer', async () => {
      // Only the head is sent: the answer comes though no byte of the 200 kB body ever does.
      const head = requestHead('POST', '/graphql', {
        Host: 'x',
        'Content-Type': 'multipart/form-data; boundary=b',
        'apollo-require-preflight': 'true',
        'Content-Length': 200_000,
      });
      const headOnly = await rawExchange(stack.url, Buffer.from(head), { timeoutMs: HANG_MS });
      expect(judge('head only', headOnly, { status: [200], code: 'UNAUTHENTICATED' }).problem).to.equal(null);
      // A real client sending the whole body (all of it at once, reading only after) still gets it.
      const res = await api.upload({
        query: 'mutation($image: Upload!) { sendImage(receiverUid: 1, image: $image) { id } }',
        file: jpegBytes(MAX_IMAGE_BYTES),
      });
      expect(res.status).to.equal(200);
      expect(res.errors![0].extensions!.code).to.equal('UNAUTHENTICATED');
      const written = await rawExchange(stack.url, Buffer.concat([Buffer.from(head), Buffer.alloc(200_000, 1)]), { timeoutMs: HANG_MS });
      expect(judge('whole body', written, { status: [200], code: 'UNAUTHENTICATED' }).problem).to.equal(null);
      await expectServingAndNothingLeftOver();
    });

    it('refuses a multipart request whose Content-Length exceeds MAX_IMAGE_BYTES and its envelope before reading it (413)', async () => {
      const tooLong = MAX_IMAGE_BYTES + 64 * 1024 + 1;
      const head = requestHead('POST', '/graphql', {
        Host: 'x',
        'Content-Type': 'multipart/form-data; boundary=b',
        'apollo-require-preflight': 'true',
        'Content-Length': tooLong,
        Authorization: `Bearer ${alice.token}`,
      });
      const headOnly = await rawExchange(stack.url, Buffer.from(head), { timeoutMs: HANG_MS });
      expect(judge('head only', headOnly, { status: [413], code: 'PAYLOAD_TOO_LARGE' }).problem).to.equal(null);
      // fetch sends the whole body; it gets the answer.
      const res = await api.upload({
        token: alice.token,
        query: 'mutation($image: Upload!) { sendImage(receiverUid: 1, image: $image) { id } }',
        file: jpegBytes(4 * MAX_IMAGE_BYTES),
      });
      expect(res.status).to.equal(413);
      expect(res.errors![0].extensions!.code).to.equal('PAYLOAD_TOO_LARGE');
      await expectServingAndNothingLeftOver();
    });

    it('leaves memory flat over 1,000 malformed requests, and every connection closed', async function () {
      this.timeout(300_000);
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const measure = async () => {
        for (let i = 0; i < 3; i++) {
          gc();
          await new Promise((r) => setImmediate(r));
        }
        const m = process.memoryUsage();
        return m.heapUsed + m.external;
      };
      const cases = fc.sample(multipartCase, { seed: SEED + 1, numRuns: 1000 }).map((c) => buildMultipart(c, target));
      const hand = probes(target).filter(
        (p) => p.label.startsWith('multipart:') && !p.label.includes('real send') && !p.label.includes('two sends'),
      );
      const batch = async (from: number, to: number) => {
        const problems: string[] = [];
        // Eight at a time, as several clients would.
        for (let i = from; i < to; i += 8) {
          await Promise.all(
            Array.from({ length: Math.min(8, to - i) }, async (_, j) => {
              const k = i + j;
              const probe = k % 5 === 0 ? hand[k % hand.length] : undefined;
              const built = cases[k];
              const outcome = probe
                ? await rawExchange(stack.url, probe.bytes, { timeoutMs: HANG_MS, ...probe.options })
                : await rawExchange(stack.url, built.bytes, {
                    timeoutMs: HANG_MS,
                    ...(built.delivery === 'abort' ? { abortAfter: built.abortAfter } : {}),
                    ...(built.framing === 'short' ? { halfClose: true } : {}),
                  });
              const judged = judge(
                probe?.label ?? 'generated',
                outcome,
                probe ?? { mayClose: built.delivery === 'abort' || built.framing === 'short' || built.framing === 'long' },
              );
              sends += judged.sends;
              if (judged.problem) problems.push(judged.problem);
            }),
          );
        }
        expect(problems).to.deep.equal([]);
      };
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
      const socketsBefore = sockets();
      // A first round warms the code paths and the allocators; then the same again must not grow.
      await batch(0, 200);
      await eventually(() => expect(sockets()).to.be.at.most(socketsBefore), 10_000, 200);
      const before = await measure();
      await batch(200, 1000);
      await eventually(() => expect(sockets()).to.be.at.most(socketsBefore), 10_000, 200);
      const grown = (await measure()) - before;
      console.log(`      heap + external after GC grew by ${(grown / 1024 / 1024).toFixed(1)} MiB over 800 malformed requests`);
      // A request left hanging holds its parser, buffers and socket (hundreds of kB); keeping even the
      // request objects alone of 800 of them grows it by more than this.
      expect(grown).to.be.below(8 * 1024 * 1024);
      await expectServingAndNothingLeftOver();
    });
  });
}
