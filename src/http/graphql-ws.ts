import type http from 'node:http';
import { ExecutionArgs, getOperationAST, GraphQLError, GraphQLSchema, parse, specifiedRules, validate, DocumentNode } from 'graphql';
import type { ConnectionInitMessage } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createArmor, formatError, isUnexpected } from '../apollo';
import type { Config } from '../config';
import type { Context } from '../context';
import type { Logger } from '../logger';
import type { RealtimeService, RealtimeSession } from '../services/realtime.service';

/** A subscription document is a few hundred bytes; GRAPHQL_MAX_TOKENS bounds it further. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** How long a new socket may take to send connection_init before it is closed (4408). */
const INIT_TIMEOUT_MS = 10_000;

type InitPayload = NonNullable<ConnectionInitMessage['payload']>;
type Extra = {
  session?: RealtimeSession;
};

export interface GraphqlWs {
  /** Stops taking sockets and closes the open ones (1012); resolves once all are closed. */
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol of the graphql-ws library) on the
 * HTTP server's /graphql. connection_init's payload carries `authorization`: a missing or wrong
 * token closes with 4403. Only subscriptions run here (queries and mutations go over HTTP), with
 * the same resource limits and error formatting as HTTP requests.
 */
export function attachGraphqlWs(
  server: http.Server,
  schema: GraphQLSchema,
  realtime: RealtimeService,
  config: Config,
  log: Logger,
): GraphqlWs {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: MAX_MESSAGE_BYTES });
  const armor = createArmor(config);
  const rules = [...specifiedRules, ...armor.validationRules];
  const development = config.env === 'development';
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => {
      if (isUnexpected(e)) log.error({ err: e.originalError ?? e, path: e.path }, 'unexpected error in a subscription');
      return formatError(e.toJSON(), e, development);
    });

  useServer<InitPayload, Extra>(
    {
      schema,
      isProd: config.env === 'production',
      connectionInitWaitTimeout: INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const close = (why: { code: number; reason: string }) => ctx.extra.socket.close(why.code, why.reason);
        try {
          const session = await realtime.connect(authorizationOf(ctx.connectionParams), close);
          if (!session) return false;
          ctx.extra.session = session;
          // The socket may have closed while the token was checked.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) realtime.disconnect(session);
          return true;
        } catch (err) {
          log.warn({ err }, 'realtime: could not check a token at connect');
          close({ code: 1013, reason: 'Try again later' });
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        const session = ctx.extra.session;
        if (!session) return [new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED' } })];
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: config.graphql.maxTokens });
        } catch (e) {
          const tooLong = e instanceof GraphQLError && /tokens/i.test(e.message);
          const message = tooLong ? `Token limit of ${config.graphql.maxTokens} exceeded.` : (e as Error).message;
          return [new GraphQLError(message, { extensions: { code: tooLong ? 'GRAPHQL_VALIDATION_FAILED' : 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(schema, document, rules);
        // Returned errors go through onError, which formats them.
        if (errors.length)
          return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation || operation.operation !== 'subscription') {
          return [
            new GraphQLError('Only subscriptions are served over WebSocket; send queries and mutations over HTTP', {
              extensions: { code: 'BAD_REQUEST' },
            }),
          ];
        }
        const contextValue: Context = { viewer: session.viewer, realtime: session, log };
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
        return args;
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onClose: (ctx) => {
        if (ctx.extra.session) realtime.disconnect(ctx.extra.session);
      },
    },
    wss,
    config.realtime.keepAliveMs,
  );

  return {
    close: () =>
      new Promise<void>((resolve) => {
        wss.close(() => resolve());
        // Sockets still without a session (connection_init not yet sent) are told too.
        for (const socket of wss.clients) if (socket.readyState === socket.OPEN) socket.close(1012, 'Service restart');
      }),
  };
}

/** The token from connection_init's payload: `authorization` (any case), as the HTTP header. */
function authorizationOf(params: Readonly<InitPayload> | undefined): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) if (key.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  return undefined;
}
