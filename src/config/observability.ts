import type { EnvReader } from './env-reader';

/** Tracing with OpenTelemetry; the SDK reads the other standard OTEL_* variables itself. */
export interface TracingConfig {
  /** OTEL_TRACES_SAMPLER: which traces are kept (the specification's names). */
  sampler: 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers. */
  ratio: number;
}

export interface ObservabilitySection {
  /** Port of GET /metrics (on HOST), never the API's; null: no metrics endpoint. */
  metricsPort: number | null;
  /** Null unless OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only twin) names where traces go. */
  tracing: TracingConfig | null;
}

/** METRICS_PORT and the OTEL_* variables the server reads itself. */
export function observabilityConfig(r: EnvReader, production: boolean, apiPort: number): ObservabilitySection {
  // 9464 in production only, so that two development instances on one machine do not collide.
  const metricsPortRaw = r.int('METRICS_PORT', production ? 9464 : 0, 0, 65535);
  if (metricsPortRaw !== 0 && metricsPortRaw === apiPort)
    r.problem(`METRICS_PORT: must differ from PORT (${apiPort}); /metrics is never served on the API's port`);
  const otlpEndpoint = r.str('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', r.str('OTEL_EXPORTER_OTLP_ENDPOINT', ''));
  let tracing: TracingConfig | null = null;
  if (otlpEndpoint && !r.bool('OTEL_SDK_DISABLED', false)) {
    if (!/^https?:\/\/[^/]/.test(otlpEndpoint))
      r.problem(`OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL such as http://127.0.0.1:4318, got "${otlpEndpoint}"`);
    const sampler = r.oneOf('OTEL_TRACES_SAMPLER', 'parentbased_always_on', [
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ] as const);
    const ratioRaw = r.str('OTEL_TRACES_SAMPLER_ARG', '1');
    const ratio = Number(ratioRaw);
    if (!/^\d*\.?\d+$/.test(ratioRaw.trim()) || ratio > 1)
      r.problem(`OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got "${ratioRaw}"`);
    tracing = { sampler, ratio: ratio >= 0 && ratio <= 1 ? ratio : 1 };
  }
  return { metricsPort: metricsPortRaw === 0 ? null : metricsPortRaw, tracing };
}
