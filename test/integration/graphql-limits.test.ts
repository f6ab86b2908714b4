import { expect } from 'chai';
import { ApiClient, GqlResult, httpGet, multipartBody } from '../support/client';
import { jpegBytes, registerUser, TestUser } from '../support/factories';
import { STACKS, startStack, TestStack } from '../support/stack';

const first = (r: GqlResult) => r.errors?.[0] ?? { message: '', extensions: {} };

async function postRaw(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('GraphQL resource limits (API4) and security headers', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let api: ApiClient;
  let alice: TestUser;

  before(async () => {
    // Depth and cost are set low here: the real schema nests 3 levels at most today, and its
    // largest query costs 28 (the defaults are 8 and 1000).
    stack = await startStack(STACKS[0], { GRAPHQL_MAX_DEPTH: '2', GRAPHQL_MAX_COST: '20' });
    api = new ApiClient(stack.url);
    alice = await registerUser(api);
  });
  after(() => stack?.stop());

  it('refuses a query deeper than GRAPHQL_MAX_DEPTH before running it', async () => {
    expect((await api.gql('{ images { id } me { uid } }', {}, alice.token)).errors).to.equal(undefined);
    for (const q of ['{ images { sender { uid } } }', 'fragment U on User { uid } query { images { sender { ...U } } }']) {
      const res = await api.gql(q, {}, alice.token);
      expect(res.data ?? null).to.equal(null);
      expect(first(res).extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
      expect(first(res).message).to.contain('Query depth limit of 2 exceeded, found 3');
    }
  });

  it('refuses a document of more than GRAPHQL_MAX_TOKENS (1000) tokens before parsing it', async () => {
    const res = await api.gql(`{ me { ${'uid '.repeat(1000)} } }`, {}, alice.token);
    expect(res.status).to.equal(400);
    expect(res.data ?? null).to.equal(null);
    expect(first(res).extensions!.code).to.equal('GRAPHQL_PARSE_FAILED');
    expect(first(res).message).to.contain('1000 tokens');
  });

  it('answers a syntax error with GRAPHQL_PARSE_FAILED and 400', async () => {
    const res = await api.gql('{ me { uid ', {}, alice.token);
    expect(res.status).to.equal(400);
    expect(first(res).extensions!.code).to.equal('GRAPHQL_PARSE_FAILED');
  });

  it('refuses more directives than GRAPHQL_MAX_DIRECTIVES (10)', async () => {
    const ten = Array.from({ length: 10 }, () => 'uid @include(if: true)').join(' ');
    expect((await api.gql(`{ me { ${ten} } }`, {}, alice.token)).errors).to.equal(undefined);
    const res = await api.gql(`{ me { ${ten} nickname @include(if: true) } }`, {}, alice.token);
    expect(first(res).extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
    expect(first(res).message).to.contain('Directives limit of 10 exceeded');
  });

  it('refuses a query whose cost exceeds GRAPHQL_MAX_COST', async () => {
    expect((await api.gql('{ images { id messageKey } }', {}, alice.token)).errors).to.equal(undefined);
    const res = await api.gql(
      '{ images { id messageKey receiverUid sendTime exist filetype size downloadUrl sender { uid nickname regionNum phoneHash regTime } } }',
      {},
      alice.token,
    );
    expect(first(res).extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
    expect(first(res).message).to.contain('Query Cost limit of 20 exceeded');
  });

  it('refuses batched operations, in JSON and in a multipart request', async () => {
    const json = await postRaw(stack.url, [{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(json.status).to.equal(400);
    expect(json.text).to.contain('batching');
    const { body, contentType } = multipartBody({
      query: 'mutation($image: Upload!) { sendImage(receiverUid: 1, image: $image) { id } }',
      file: jpegBytes(100),
    });
    const batched = body
      .toString('latin1')
      .replace(/name="operations"\r\n\r\n(\{.*?\})\r\n/s, (_m, ops) => `name="operations"\r\n\r\n[${ops},${ops}]\r\n`);
    const multipart = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'apollo-require-preflight': 'true', authorization: `Bearer ${alice.token}` },
      body: Buffer.from(batched, 'latin1'),
    });
    expect(multipart.status).to.be.oneOf([400, 413]);
    expect(await multipart.text()).not.to.contain('"sendImage":{');
  });

  it('shows field suggestions outside production', async () => {
    const res = await api.gql('{ mee { uid } }', {}, alice.token);
    expect(first(res).message).to.contain('Did you mean "me"?');
  });

  describe('security headers (helmet) on every response', () => {
    const expectHelmet = (h: Headers | Record<string, unknown>, strict = true) => {
      const get = (k: string) => (h instanceof Headers ? h.get(k) : (h[k] as string | undefined));
      expect(get('x-content-type-options')).to.equal('nosniff');
      expect(get('x-frame-options')).to.equal('SAMEORIGIN');
      expect(get('strict-transport-security')).to.match(/max-age=\d+/);
      expect(get('referrer-policy')).to.equal('no-referrer');
      expect(get('x-powered-by') ?? null).to.equal(null);
      if (strict) expect(get('content-security-policy')).to.contain("default-src 'none'");
    };

    it('on GraphQL answers, errors included, with a request id', async () => {
      const ok = await postRaw(stack.url, { query: '{ me { uid } }' }, { authorization: `Bearer ${alice.token}` });
      expectHelmet(ok.headers);
      expect(ok.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
      const bad = await postRaw(stack.url, '{not json');
      expect(bad.status).to.equal(400);
      expectHelmet(bad.headers);
    });

    it('on health checks, downloads and unknown paths', async () => {
      expectHelmet((await fetch(`${stack.url}/healthz`)).headers);
      expectHelmet((await fetch(`${stack.url}/no-such-path`)).headers);
      const bob = await registerUser(api);
      const sent = (
        await api.upload<{ sendImage: { messageKey: string } }>({
          token: alice.token,
          query: 'mutation($r: Int!, $image: Upload!) { sendImage(receiverUid: $r, image: $image) { messageKey } }',
          variables: { r: bob.uid },
          file: jpegBytes(5000),
        })
      ).data!.sendImage;
      const url = (await api.gql('query($k: String!) { image(messageKey: $k) { downloadUrl } }', { k: sent.messageKey }, bob.token)).data!
        .image.downloadUrl;
      const download = await httpGet(url);
      expect(download.status).to.equal(200);
      expectHelmet(download.headers);
    });

    it('echoes a sane X-Request-Id and replaces anything else', async () => {
      expect(
        (await postRaw(stack.url, { query: '{ __typename }' }, { 'x-request-id': 'app-1234.5' })).headers.get('x-request-id'),
      ).to.equal('app-1234.5');
      const odd = (await postRaw(stack.url, { query: '{ __typename }' }, { 'x-request-id': 'a b<script>' })).headers.get('x-request-id');
      expect(odd).to.match(/^[0-9a-f-]{36}$/);
    });

    it('lets the Sandbox landing page load: its scripts, styles and frame are all allowed by the page policy', async () => {
      const res = await fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(res.status).to.equal(200);
      const html = await res.text();
      expect(html).to.contain('embeddable-sandbox');
      expect(html).to.contain('requestVerificationCode');
      const csp = res.headers.get('content-security-policy')!;
      expectHelmet(res.headers, false);
      const directive = (name: string) =>
        (
          csp
            .split(';')
            .map((d) => d.trim())
            .find((d) => d.startsWith(`${name} `)) ?? ''
        )
          .split(/\s+/)
          .slice(1);
      for (const src of html.matchAll(/<script[^>]*src="([^"]+)"/g)) expect(directive('script-src')).to.include(new URL(src[1]).origin);
      expect(directive('script-src')).to.include("'unsafe-inline'");
      expect(directive('style-src')).to.include("'unsafe-inline'");
      for (const href of html.matchAll(/<link[^>]*href="(https:[^"]+)"[^>]*rel="stylesheet"/g))
        expect(directive('style-src')).to.include(new URL(href[1]).origin);
      expect(directive('frame-src')).to.include('https://sandbox.embed.apollographql.com');
    });
  });
});

describe('production mode (API8: security misconfiguration)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let api: ApiClient;
  let alice: TestUser;

  before(async () => {
    stack = await startStack(STACKS[0], { NODE_ENV: 'production' });
    api = new ApiClient(stack.url);
    alice = await registerUser(api);
  });
  after(() => stack?.stop());

  it('refuses introspection', async () => {
    const res = await api.gql('{ __schema { types { name } } }');
    expect(res.data ?? null).to.equal(null);
    expect(first(res).extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
    expect(first(res).message).to.contain('introspection');
  });

  it('keeps the default limits: 15 aliases pass, the 16th is refused', async () => {
    const ok = Array.from({ length: 15 }, (_, i) => `a${i}: me { uid }`).join(' ');
    expect((await api.gql(`{ ${ok} }`, {}, alice.token)).errors).to.equal(undefined);
    const res = await api.gql(`{ ${ok} a15: me { uid } }`, {}, alice.token);
    expect(res.data ?? null).to.equal(null);
    expect(first(res).extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
    expect(first(res).message).to.contain('Aliases limit of 15 exceeded');
  });

  it('hides field suggestions', async () => {
    const res = await api.gql('{ mee { uid } }', {}, alice.token);
    expect(first(res).message).not.to.contain('Did you mean');
    expect(first(res).message).not.to.contain('"me"');
  });

  it('serves no Sandbox: the plain production landing page, no explorer', async () => {
    const html = await (await fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => new URL(m[1]).hostname);
    expect(scripts).to.deep.equal(['apollo-server-landing-page.cdn.apollographql.com']);
    expect(html).not.to.contain('EmbeddedSandbox');
    expect(html).not.to.contain('EmbeddedExplorer');
  });

  it('shows no error details: no stack trace, no SQL, no table names', async () => {
    await stack.server.container.db.query('DROP TABLE verification_code');
    const res = await api.gql('mutation { requestVerificationCode(regionNum: "86", phoneNum: "13912345678") { expiresAt } }');
    expect(res.errors![0]).to.deep.include({ message: 'Internal server error' });
    expect(res.errors![0].extensions).to.deep.equal({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(res)).not.to.match(/verification_code|SELECT|INSERT|stack|at .*\.js/i);
  });
});
