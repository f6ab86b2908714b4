import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { expect } from 'chai';
import {
  buildClientSchema,
  execute,
  getIntrospectionQuery,
  getNamedType,
  GraphQLField,
  GraphQLInputType,
  GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  parse,
} from 'graphql';
import { Upload } from 'graphql-upload-ts';
import { createSchema, printSchemaFile } from '../../src/schema';
import { phoneHashOf } from '../../src/services/phone';
import { ApiClient, GqlResult, httpGet, MESSAGE_FIELDS } from '../support/client';
import { jpegBytes, nextPhone, REQUEST_CODE, registerUser, requestCode, TestUser } from '../support/factories';
import { STACKS, startStack, TestStack } from '../support/stack';

/** The operations anyone may call without a token; everything else needs one. */
const PUBLIC_OPERATIONS = ['register', 'requestVerificationCode'];

/** A value of the given input type, enough to get past GraphQL's own coercion. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) return Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, sample(f.type)]));
  switch (type.name) {
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return true;
    case 'DateTimeISO':
      return new Date().toISOString();
    case 'Upload': {
      const upload = new Upload();
      upload.resolve({
        filename: 'x.jpg',
        mimetype: 'image/jpeg',
        encoding: '7bit',
        fieldName: '0',
        createReadStream: () => Readable.from([]),
      } as never);
      return upload;
    }
    default:
      return 'x';
  }
}

/** Runs one root field with sample arguments and no viewer, on resolvers that only say they ran. */
async function callWithoutToken(schema: GraphQLSchema, operation: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) {
  const vars = field.args.map((a, i) => `$a${i}: ${a.type.toString()}`).join(', ');
  const args = field.args.map((a, i) => `${a.name}: $a${i}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : '{ __typename }';
  const document = parse(`${operation}${vars ? `(${vars})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selection} }`);
  const variableValues = Object.fromEntries(field.args.map((a, i) => [`a${i}`, sample(a.type)]));
  return execute({ schema, document, variableValues, contextValue: { viewer: null, ip: '127.0.0.1' } });
}

describe('OWASP API Security Top 10 (2023)', function () {
  this.timeout(60_000);

  it('SECURITY.md names only tests that exist', function () {
    let root = this.test!.parent!;
    while (root.parent) root = root.parent;
    const titles = new Set<string>();
    const walk = (suite: Mocha.Suite) => {
      for (const t of suite.tests) titles.add(t.title);
      suite.suites.forEach(walk);
    };
    walk(root);
    const doc = fs.readFileSync(path.resolve(__dirname, '../../../SECURITY.md'), 'utf8');
    const named = [...doc.matchAll(/› "([^"]+)"/g)].map((m) => m[1]).filter((t) => t !== 'test title');
    expect(named.length).to.be.greaterThan(40);
    expect(named.filter((t) => !titles.has(t))).to.deep.equal([]);
  });

  describe('API5 broken function level authorization', () => {
    it('every operation but register and requestVerificationCode refuses a caller without a token, before it runs', async () => {
      const ran = new Error('RESOLVER_RAN');
      const resolver = new Proxy({}, { get: (_t, p) => (p === 'then' ? undefined : () => Promise.reject(ran)) });
      const schema = await createSchema({ get: () => resolver });
      const seen: string[] = [];
      for (const [operation, type] of [
        ['query', schema.getQueryType()],
        ['mutation', schema.getMutationType()],
      ] as const) {
        for (const field of Object.values(type!.getFields())) {
          seen.push(field.name);
          const result = await callWithoutToken(schema, operation, field);
          const error = result.errors?.[0];
          if (PUBLIC_OPERATIONS.includes(field.name)) {
            expect(error?.message, `${field.name} is public: it must reach its resolver`).to.equal('RESOLVER_RAN');
          } else {
            expect(error?.extensions?.code, `${operation} ${field.name} without a token: ${error?.message}`).to.equal('UNAUTHENTICATED');
          }
        }
      }
      expect(seen).to.include.members(['me', 'image', 'images', 'sendImage', 'confirmDownload', 'updateCid', ...PUBLIC_OPERATIONS]);
    });
  });

  describe('API3 broken object property level authorization (the schema)', () => {
    let schema: GraphQLSchema;
    before(async () => {
      schema = await createSchema({ get: () => ({}) });
    });

    it('no output field carries a phone number, a ukey hash, a push cid or a verification code (the ukey only in Registration)', () => {
      const forbidden = /^(phone|phoneNum|phoneNumber|ukey|ukeyHash|cid|code|verificationCode|codeHash|smsCode)$/i;
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type) || type.name.startsWith('__')) continue;
        for (const name of Object.keys(type.getFields())) {
          if (type.name === 'Registration' && name === 'ukey') continue;
          expect(forbidden.test(name), `${type.name}.${name}`).to.equal(false);
        }
      }
    });

    it('no input or argument sets an owner: no uid in inputs, no sender or owner anywhere', () => {
      for (const type of Object.values(schema.getTypeMap())) {
        if (isInputObjectType(type)) {
          for (const name of Object.keys(type.getFields()))
            expect(/^(uid|id|owner|ownerUid|senderUid|sender)$/.test(name), `${type.name}.${name}`).to.equal(false);
        }
      }
      for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
        for (const field of Object.values(root.getFields())) {
          for (const arg of field.args)
            expect(/^(owner|ownerUid|sender|senderUid)$/.test(arg.name), `${field.name}(${arg.name})`).to.equal(false);
        }
      }
    });
  });

  describe('API7 server side request forgery (the schema)', () => {
    it('no argument or input field takes a URL: the server fetches nothing a client names', async () => {
      const schema = await createSchema({ get: () => ({}) });
      const urlish = /url|uri|link|href|callback|webhook|endpoint/i;
      for (const type of Object.values(schema.getTypeMap())) {
        if (isInputObjectType(type))
          for (const name of Object.keys(type.getFields())) expect(urlish.test(name), `${type.name}.${name}`).to.equal(false);
      }
      for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
        for (const field of Object.values(root.getFields()))
          for (const arg of field.args) expect(urlish.test(arg.name), `${field.name}(${arg.name})`).to.equal(false);
      }
    });
  });

  describe('on a running server', () => {
    let stack: TestStack;
    let api: ApiClient;
    let log = '';
    const sink = new Writable({
      write(chunk, _e, done) {
        log += chunk.toString();
        done();
      },
    });

    before(async () => {
      stack = await startStack(STACKS[0], { LOG_LEVEL: 'trace' }, { logStream: sink });
      api = new ApiClient(stack.url);
    });
    after(() => stack?.stop());

    it('API9 improper inventory: the served schema is exactly schema.graphql', async () => {
      const res = await api.gql(getIntrospectionQuery());
      const served = printSchemaFile(buildClientSchema(res.data as never));
      const committed = fs.readFileSync(path.resolve(__dirname, '../../../schema.graphql'), 'utf8');
      expect(served).to.equal(committed);
    });

    it('API1 broken object level authorization: a code sent to one number registers no other', async () => {
      const a = nextPhone();
      const b = nextPhone();
      const code = await requestCode(api, a.regionNum, a.phoneNum);
      const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
        i: { cid: 'c', ...b, nickname: 'n', verificationCode: code },
      });
      expect(res.errors![0].extensions).to.include({ code: 'BAD_USER_INPUT', reason: 'WRONG' });
    });

    it('API3: a client cannot set its uid: unknown input fields are refused and change nothing', async () => {
      const phone = nextPhone();
      const code = await requestCode(api, phone.regionNum, phone.phoneNum);
      const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
        i: { cid: 'c', ...phone, nickname: 'n', verificationCode: code, uid: 1 },
      });
      expect(res.data ?? null).to.equal(null);
      expect(res.errors![0].extensions!.code).to.equal('BAD_USER_INPUT');
      expect(res.errors![0].message).to.contain('"uid" is not defined by type "RegisterInput"');
    });

    describe('a whole session of two users, watched', () => {
      let alice: TestUser;
      let bob: TestUser;
      const responses: GqlResult[] = [];
      const codes: string[] = [];
      const downloadTokens: string[] = [];
      let listenerHits = 0;
      let listener: http.Server;
      let trap = '';
      let unsent = { regionNum: '', phoneNum: '' };

      before(async () => {
        listener = http.createServer((_req, res) => {
          listenerHits += 1;
          res.end('{}');
        });
        await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
        trap = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
        const watch = <T extends GqlResult>(r: T): T => {
          responses.push(r);
          return r;
        };
        const watchedCode = async (p: { regionNum: string; phoneNum: string }) => {
          const c = await requestCode(api, p.regionNum, p.phoneNum);
          codes.push(c);
          return c;
        };
        const pa = nextPhone();
        alice = await registerUser(api, { ...pa, nickname: `${trap}/nickname`, verificationCode: await watchedCode(pa) });
        const pb = nextPhone();
        bob = await registerUser(api, { ...pb, verificationCode: await watchedCode(pb) });
        // A used code is tried again.
        watch(
          await api.gql('mutation($i: RegisterInput!) { register(input: $i) { uid } }', {
            i: { cid: 'c', ...pb, nickname: 'b', verificationCode: codes[1] },
          }),
        );
        watch(await api.gql('{ me { uid nickname regionNum phoneHash regTime } }', {}, alice.token));
        const sent = watch(
          await api.upload<{ sendImage: { messageKey: string } }>({
            token: alice.token,
            query: `mutation($r: Int!, $image: Upload!, $size: Int) { sendImage(receiverUid: $r, image: $image, size: $size) { ${MESSAGE_FIELDS} } }`,
            variables: { r: bob.uid, size: 3000 },
            file: jpegBytes(3000),
            filename: `${trap}/photo.jpg`,
            headers: { 'x-forwarded-host': trap.replace('http://', ''), referer: trap, origin: trap },
          }),
        );
        const key = sent.data!.sendImage.messageKey;
        const fetched = watch(
          await api.gql(`query($k: String!) { image(messageKey: $k) { ${MESSAGE_FIELDS} } }`, { k: key }, bob.token, {
            'x-forwarded-host': trap.replace('http://', ''),
          }),
        );
        const url = fetched.data!.image.downloadUrl as string;
        downloadTokens.push(url.split('/download/')[1]);
        expect((await httpGet(url)).status).to.equal(200);
        watch(await api.gql('{ images { id sender { nickname } } }', {}, bob.token));
        watch(await api.gql('mutation($k: String!) { confirmDownload(messageKey: $k) { exist } }', { k: key }, bob.token));
        watch(await api.gql('{ me { uid } }', {}, `${alice.phoneHash}.${bob.ukey}`));
        // A provider failure, to see what reaches the log.
        stack.sms!.mode = 'refuse';
        const p = nextPhone();
        unsent = p;
        watch(await api.gql(REQUEST_CODE, { r: p.regionNum, p: p.phoneNum }));
        stack.sms!.mode = 'ok';
      });
      after(() => new Promise<void>((r) => listener.close(() => r())));

      /** `text` holds `secret`; a 6-digit code counts only as a run of digits of its own (timestamps hold any 6 digits). */
      const holds = (text: string, secret: string) =>
        /^\d+$/.test(secret) ? new RegExp(`(?<![0-9])${secret}(?![0-9])`).test(text) : text.includes(secret);

      /** What no response may show (download URLs are answers by design, to their receiver). */
      const secrets = () => [
        ...[alice, bob].flatMap((u) => [
          u.phoneNum,
          `+${u.regionNum}${u.phoneNum}`,
          u.ukey,
          u.token,
          createHash('sha256').update(u.ukey).digest('hex'),
        ]),
        ...codes,
      ];

      it('API3: no response carries a phone number, a ukey hash or a code', () => {
        const text = JSON.stringify(responses);
        expect(responses.length).to.be.greaterThan(6);
        for (const s of secrets()) expect(holds(text, s), `a response shows ${s}`).to.equal(false);
      });

      it('logs: structured, with request ids, and never a phone number, ukey, token, code or download token', () => {
        const lines = log
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        expect(lines.length).to.be.greaterThan(10);
        const requests = lines.filter((l) => l.req);
        expect(requests.length).to.be.greaterThan(8);
        for (const l of requests) expect(l.req.id).to.be.a('string');
        expect(requests.some((l) => l.req.path === '/download/[redacted]')).to.equal(true);
        expect(lines.some((l) => l.msg === 'verification SMS failed' && l.providerCode === 'isv.BUSINESS_LIMIT_CONTROL')).to.equal(true);
        for (const s of [...secrets(), ...downloadTokens, ...downloadTokens.map((t) => t.split('.').at(-1)!)])
          expect(holds(log, s), 'a secret reached the log').to.equal(false);
      });

      it('logs name users by uid, never by phone hash (a hash is the number); a failed SMS names the number masked', () => {
        const hashes = [alice, bob].map((u) => u.phoneHash).concat(phoneHashOf(unsent.regionNum, unsent.phoneNum));
        for (const h of hashes) expect(log.includes(h), 'a phone hash reached the log').to.equal(false);
        const lines = log
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        const failed = lines.find((l) => l.msg === 'verification SMS failed');
        expect(failed.to).to.equal(`+86*********${unsent.phoneNum.slice(-2)}`);
      });

      it('API7 server side request forgery: URLs in names, file names and headers are never fetched; downloadUrl keeps PUBLIC_URL', async () => {
        const got = await api.gql('{ images { downloadUrl } me { nickname } }', {}, alice.token, {
          'x-forwarded-host': 'evil.example',
          forwarded: 'host=evil.example',
        });
        expect(got.data!.me.nickname).to.equal(`${trap}/nickname`);
        const sent = (await api.sendImage(bob.token, alice.uid, jpegBytes(1000))).data!.sendImage;
        const url = (
          await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: sent.messageKey }, alice.token, {
            'x-forwarded-host': 'evil.example',
          })
        ).data!.image.downloadUrl;
        expect(url.startsWith(`${stack.config.publicUrl}/download/`)).to.equal(true);
        expect(listenerHits).to.equal(0);
      });
    });
  });
});
