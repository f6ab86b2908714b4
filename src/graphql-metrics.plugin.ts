import type { ApolloServerPlugin } from '@apollo/server';
import { performance } from 'node:perf_hooks';
import type { Context } from './context';
import type { Metrics, OperationType } from './services/metrics';

/** Distinct operation names one process labels; later new names count as `other`. */
export const MAX_OPERATION_NAMES = 100;
const MAX_NAME_LENGTH = 64;
const CODE = /^[A-Z][A-Z0-9_]{0,39}$/;

/**
 * Keeps the `operation` label bounded. Clients choose operation names, so a name is used only
 * once its document has parsed and validated against the schema (a GraphQL name: letters,
 * digits, underscores), only up to MAX_NAME_LENGTH characters, and only for the first
 * MAX_OPERATION_NAMES names seen; anything else is `other`, a nameless operation `anonymous`.
 */
export class OperationLabels {
  private readonly known = new Set<string>();

  constructor(private readonly max = MAX_OPERATION_NAMES) {}

  of(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (this.known.has(name)) return name;
    if (name.length > MAX_NAME_LENGTH || this.known.size >= this.max || name === 'other' || name === 'anonymous') return 'other';
    this.known.add(name);
    return name;
  }
}

/** Counts and times every GraphQL request by operation, type and first error code. */
export function graphqlMetricsPlugin(metrics: Metrics, labels = new OperationLabels()): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = performance.now();
      // One hook a request: Apollo sets `operation` only once the document has parsed, validated
      // and named its operation; until then the request is `other`.
      return {
        async willSendResponse({ response, operation, operationName }) {
          const type = (operation?.operation ?? 'unknown') as OperationType;
          const label = operation ? labels.of(operationName) : 'other';
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          const raw = errors?.[0]?.extensions?.code;
          const code = errors?.length ? (typeof raw === 'string' && CODE.test(raw) ? raw : 'OTHER') : 'OK';
          metrics.graphqlRequest(label, type, code, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
