import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';

/**
 * The baseline for request rates: Apollo Server 5 on express 5 answering one trivial query,
 * no auth, no database. What is left is the price of the stack itself. Runs as its own process.
 */
async function main() {
  const apollo = new ApolloServer({
    typeDefs: 'type Query { hello: String! }',
    resolvers: { Query: { hello: () => 'world' } },
    introspection: false,
  });
  await apollo.start();
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(apollo));
  // The bench's own baseline process reads its port here; Glimpse reads config only in src/config.ts.
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  server.keepAliveTimeout = 65_000;
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
