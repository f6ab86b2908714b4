import { expect } from 'chai';
import { ApiClient } from '../support/client';
import { registerUser } from '../support/factories';
import { startStack, TestStack } from '../support/stack';

/** What GET /graphql shows a browser and what the schema reveals, in development and production. */

const INTROSPECT = '{ __schema { queryType { name } } }';
const INTROSPECT_TYPE = '{ __type(name: "User") { fields { name } } }';
const TYPO = '{ mee { uid } }';

async function landingPage(url: string): Promise<{ status: number; type: string; html: string }> {
  const res = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', html: await res.text() };
}

function withServer(title: string, env: Record<string, string>, body: (stack: () => TestStack) => void): void {
  describe(title, function () {
    this.timeout(60_000);
    let stack: TestStack | undefined;
    // The storage pair does not matter here: the lightest one.
    before(async () => {
      stack = await startStack('sqlite-local', env);
    });
    after(async () => {
      await stack?.stop();
    });
    body(() => stack!);
  });
}

withServer('GET /graphql and the schema in development', { NODE_ENV: 'development' }, (stack) => {
  it('serves a page that embeds Apollo Sandbox for this endpoint', async () => {
    const page = await landingPage(stack().url);
    expect(page.status).to.equal(200);
    expect(page.type).to.match(/^text\/html/);
    expect(page.html).to.contain('<div id="embeddableSandbox"></div>');
    expect(page.html).to.match(
      /src="https:\/\/embeddable-sandbox\.cdn\.apollographql\.com\/v2\/embeddable-sandbox\.umd\.production\.min\.js/,
    );
    // The page points Sandbox at the address it was loaded from: this server's /graphql.
    expect(page.html).to.contain('var initialEndpoint = window.location.href;');
    expect(page.html).to.contain('new window.EmbeddedSandbox(');
  });

  it('answers introspection and suggests field names', async () => {
    const api = new ApiClient(stack().url);
    expect((await api.gql(INTROSPECT)).data).to.deep.equal({ __schema: { queryType: { name: 'Query' } } });
    expect((await api.gql(TYPO)).errors![0].message).to.contain('Did you mean "me"?');
  });
});

withServer('GET /graphql and the schema in production', { NODE_ENV: 'production' }, (stack) => {
  it("serves Apollo's plain production page, with no Sandbox and no Explorer", async () => {
    const page = await landingPage(stack().url);
    expect(page.status).to.equal(200);
    expect(page.type).to.match(/^text\/html/);
    expect(page.html).to.contain('Welcome to Apollo Server');
    // The only script it loads is Apollo's static landing page (its CSP header still lists the
    // explorers' hosts, which is why the scripts are what is checked).
    const scripts = [...page.html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => new URL(m[1]).host);
    expect(scripts).to.deep.equal(['apollo-server-landing-page.cdn.apollographql.com']);
    expect(page.html).to.contain(encodeURIComponent('"isProd":true'));
    for (const explorer of ['EmbeddedSandbox', 'embeddableSandbox', 'EmbeddedExplorer', 'embeddableExplorer']) {
      expect(page.html).not.to.contain(explorer);
    }
  });

  it('refuses introspection', async () => {
    const api = new ApiClient(stack().url);
    for (const query of [INTROSPECT, INTROSPECT_TYPE]) {
      const res = await api.gql(query);
      expect(res.data ?? null).to.equal(null);
      expect(res.errors![0].extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors![0].message).to.contain('introspection is not allowed');
    }
  });

  it('does not suggest field names in errors', async () => {
    const res = await new ApiClient(stack().url).gql(TYPO);
    expect(res.errors![0].extensions!.code).to.equal('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors![0].message).not.to.contain('Did you mean');
  });

  it('still serves the API', async () => {
    const api = new ApiClient(stack().url);
    const user = await registerUser(api);
    expect((await api.gql('{ me { uid } }', {}, user.token)).data).to.deep.equal({ me: { uid: user.uid } });
  });
});

withServer(
  'GET /graphql and the schema in production with INTROSPECTION=true',
  { NODE_ENV: 'production', INTROSPECTION: 'true' },
  (stack) => {
    it('answers introspection, and still serves no Sandbox', async () => {
      const api = new ApiClient(stack().url);
      expect((await api.gql(INTROSPECT)).data).to.deep.equal({ __schema: { queryType: { name: 'Query' } } });
      expect((await api.gql(INTROSPECT_TYPE)).data!.__type.fields.length).to.be.greaterThan(0);
      expect((await landingPage(stack().url)).html).not.to.contain('EmbeddedSandbox');
    });
  },
);
