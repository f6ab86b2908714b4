import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace';
import type { TracingConfig } from './config';
import type { Logger } from './logger';

export interface Tracing {
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Requests that are not worth a trace each: probes and scrapes, many a minute. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * OpenTelemetry tracing to an OTLP/HTTP (JSON) endpoint: a span per incoming HTTP request, a
 * span per GraphQL operation (parse and validate beside it), and under them the database
 * (mysql2), S3 (node:http) and GeTui (fetch) calls they make. main.ts calls this only when
 * tracing is configured, before it loads the server, so that nothing of it is loaded otherwise
 * and the instrumented modules are patched as they load. The exporter reads the standard
 * OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout) and the resource OTEL_SERVICE_NAME
 * and OTEL_RESOURCE_ATTRIBUTES.
 */
export async function startTracing(config: TracingConfig, log: Logger): Promise<Tracing> {
  const api = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = await import('@opentelemetry/core');
  const { detectResources, envDetector, resourceFromAttributes } = await import('@opentelemetry/resources');
  const sdk = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  const { MySQL2Instrumentation } = await import('@opentelemetry/instrumentation-mysql2');
  const { GraphQLInstrumentation } = await import('@opentelemetry/instrumentation-graphql');

  const ratio = new sdk.TraceIdRatioBasedSampler(config.ratio);
  const root: Record<TracingConfig['sampler'], Sampler> = {
    always_on: new sdk.AlwaysOnSampler(),
    always_off: new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdk.ParentBasedSampler({ root: ratio }),
  };
  const chosen = root[config.sampler];
  // The push dispatcher polls the outbox every second on every instance: its queries, outside
  // any request, would each be a trace of one span. Database calls are traced inside requests only.
  const sampler: Sampler = {
    shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
      if (!api.trace.getSpan(context) && kind === api.SpanKind.CLIENT && (attributes['db.system'] || attributes['db.system.name'])) {
        return { decision: sdk.SamplingDecision.NOT_RECORD };
      }
      return chosen.shouldSample(context, traceId, name, kind, attributes, links);
    },
    toString: () => `glimpse(${chosen.toString()})`,
  };

  const resource = resourceFromAttributes({ 'service.name': 'glimpse' }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler,
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  api.trace.setGlobalTracerProvider(provider);

  const graphql = new GraphQLInstrumentation({ ignoreResolveSpans: true });
  const instrumentations = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0]),
    }),
    new UndiciInstrumentation(),
    // Statements are masked: a literal in one must not reach the trace store.
    new MySQL2Instrumentation({ maskStatement: true }),
    graphql,
  ];
  registerInstrumentations({ tracerProvider: provider, instrumentations });
  // The configuration check already loaded graphql (its errors), so its files are not required
  // again by the server: requiring them here lets the instrumentation patch them all the same.
  for (const definition of graphql.getModuleDefinitions()) {
    for (const file of definition.files) await import(file.name);
  }
  log.info({ sampler: config.sampler, ratio: config.ratio }, 'OpenTelemetry tracing on');
  return {
    shutdown: async () => {
      await provider.shutdown().catch((err: unknown) => log.warn({ err }, 'could not send the last spans'));
    },
  };
}
