import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLError, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import type { Config } from './config';
import type { Context } from './context';
import { AppError } from './errors';
import { graphqlMetricsPlugin } from './graphql-metrics.plugin';
import type { Logger } from './logger';
import { Metrics, noMetrics } from './services/metrics';
import { uploadUsedOnceRule } from './upload-once.rule';

/** Codes that GraphQL itself and Apollo give to a malformed request: safe to show as they are. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'UNAUTHENTICATED',
]);

/** What the development Sandbox opens with: the two steps of register. */
export const SANDBOX_DOCUMENT = `# 1. Ask for a code: it arrives by SMS (with SMS_PROVIDER=log, in the server's log).
mutation RequestCode($regionNum: String!, $phoneNum: String!) {
  requestVerificationCode(regionNum: $regionNum, phoneNum: $phoneNum) { expiresAt resendAfter }
}

# 2. Register this device with the code; keep the ukey, it is shown once.
mutation Register($input: RegisterInput!) {
  register(input: $input) { uid ukey phoneHash user { nickname } }
}
`;

/** The resource limits (depth, aliases, directives, cost), for HTTP and WebSocket alike; tokens are the parser's. */
export function createArmor(config: Config): ReturnType<ApolloArmor['protect']> {
  const limits = config.graphql;
  // Every limit answers GRAPHQL_VALIDATION_FAILED with HTTP 400 before anything runs, but the
  // token limit, which graphql's own parser applies (GRAPHQL_PARSE_FAILED, 400). Armor's token
  // plugin parsed every document a second time and failed any it could not parse as an
  // unexpected error: HTTP 500.
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    maxAliases: { n: limits.maxAliases },
    maxTokens: { enabled: false },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true },
    // "Did you mean …?" suggestions reveal the schema as well as introspection does.
    blockFieldSuggestion: { enabled: !config.introspection },
  }).protect();
}

export function createApollo(schema: GraphQLSchema, config: Config, log: Logger, metrics: Metrics = noMetrics): ApolloServer<Context> {
  const development = config.env === 'development';
  const production = config.env === 'production';
  const armor = createArmor(config);
  return new ApolloServer<Context>({
    schema,
    introspection: config.introspection,
    // "Did you mean …?" suggestions reveal the schema as well as introspection does.
    hideSchemaDetailsFromClientErrors: !config.introspection,
    includeStacktraceInErrorResponses: development,
    allowBatchedHttpRequests: false,
    // CSRF prevention stays on: multipart clients send `apollo-require-preflight: true`.
    csrfPrevention: true,
    logger: log,
    validationRules: [...armor.validationRules, uploadUsedOnceRule],
    parseOptions: { maxTokens: config.graphql.maxTokens },
    // main.ts owns shutdown. Apollo's own SIGTERM handler stops the server first, and a second
    // stop() called meanwhile waits on a barrier Apollo 5 never resolves on success: the
    // process then hung until SIGKILL instead of exiting.
    stopOnTerminationSignals: false,
    plugins: [
      ...armor.plugins,
      logUnexpectedErrors(log),
      ...(metrics === noMetrics ? [] : [graphqlMetricsPlugin(metrics)]),
      // Production gets Apollo's plain page (no explorer); elsewhere GET /graphql embeds Sandbox.
      production
        ? ApolloServerPluginLandingPageProductionDefault({ footer: false })
        : ApolloServerPluginLandingPageLocalDefault({
            embed: true,
            footer: false,
            document: SANDBOX_DOCUMENT,
            variables: {
              regionNum: '86',
              phoneNum: '13800000001',
              input: { cid: 'YOUR_GETUI_CID', regionNum: '86', phoneNum: '13800000001', nickname: 'Li', verificationCode: '123456' },
            },
          }),
    ],
    formatError: (formatted, error) => formatError(formatted, error, development),
  });
}

/** Unexpected failures are logged in full on the server, with the request id, and nowhere else. */
function logUnexpectedErrors(fallback: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            if (!isUnexpected(error)) continue;
            (contextValue?.log ?? fallback).error(
              { err: unwrapResolverError(error), path: error.path },
              'unexpected error in a GraphQL operation',
            );
          }
        },
      };
    },
  };
}

export function isUnexpected(error: GraphQLError): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError || original instanceof ArgumentValidationError) return false;
  const code = error.extensions?.code;
  return !(typeof code === 'string' && REQUEST_ERROR_CODES.has(code));
}

/**
 * Our own errors and request errors pass as they are; validation errors lose the rejected
 * values class-validator puts in them; anything else is an unexpected failure (logged in full by
 * logUnexpectedErrors) shown to clients as INTERNAL_SERVER_ERROR with no details outside development.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, development: boolean): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) {
    return {
      ...formatted,
      extensions: { ...original.extensions, ...(development ? { stacktrace: formatted.extensions?.stacktrace } : {}) },
    };
  }
  if (original instanceof ArgumentValidationError) {
    const problems = original.extensions.validationErrors.map((v) => ({ property: v.property, constraints: v.constraints }));
    return {
      message: 'Argument validation failed',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'BAD_USER_INPUT', problems },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) return formatted;
  if (development) return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
