import { ApolloServer } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import type { Config } from './config';
import type { Context } from './context';
import { AppError } from './errors';
import type { Logger } from './logger';

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

export function createApollo(schema: GraphQLSchema, config: Config, log: Logger): ApolloServer<Context> {
  const development = config.env === 'development';
  return new ApolloServer<Context>({
    schema,
    introspection: config.env !== 'production',
    includeStacktraceInErrorResponses: development,
    // CSRF prevention stays on: multipart clients send `apollo-require-preflight: true`.
    csrfPrevention: true,
    // main.ts owns shutdown. Apollo's own SIGTERM handler stops the server first, and a second
    // stop() called meanwhile waits on a barrier Apollo 5 never resolves on success: the
    // process then hung until SIGKILL instead of exiting.
    stopOnTerminationSignals: false,
    plugins: [
      config.env === 'production'
        ? ApolloServerPluginLandingPageProductionDefault({ footer: false })
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false }),
    ],
    formatError: (formatted, error) => formatError(formatted, error, development, log),
  });
}

/**
 * Our own errors and request errors pass as they are; validation errors lose the rejected
 * values class-validator puts in them; anything else is an unexpected failure, logged in full
 * and shown to clients as INTERNAL_SERVER_ERROR with no details outside development.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, development: boolean, log: Logger): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) {
    return { ...formatted, extensions: { ...original.extensions, ...(development ? { stacktrace: formatted.extensions?.stacktrace } : {}) } };
  }
  if (original instanceof ArgumentValidationError) {
    const problems = original.extensions.validationErrors.map((v) => ({ property: v.property, constraints: v.constraints }));
    return { message: 'Argument validation failed', locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_USER_INPUT', problems } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) return formatted;
  log.error({ err: original, path: formatted.path }, 'unexpected error in a GraphQL operation');
  if (development) return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
