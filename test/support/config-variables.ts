import { loadConfig } from '../../src/config';

/**
 * Every variable loadConfig reads, found by letting it read an environment that records reads,
 * with values that take every branch: S3, GeTui, Aliyun SMS and tracing on.
 */
export function variablesConfigReads(): string[] {
  const seen = new Set<string>();
  const values: Record<string, string> = {
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    PUSH_PROVIDER: 'getui',
    GETUI_APP_ID: 'a',
    GETUI_APP_KEY: 'k',
    GETUI_MASTER_SECRET: 's',
    SMS_PROVIDER: 'aliyun',
    ALIYUN_ACCESS_KEY_ID: 'id',
    ALIYUN_ACCESS_KEY_SECRET: 'secret',
    ALIYUN_SMS_SIGN_NAME: 'Glimpse',
    ALIYUN_SMS_TEMPLATE_CODE: 'SMS_1',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
  };
  const env = new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') seen.add(name);
      return target[name as string];
    },
  });
  loadConfig(env);
  return [...seen].sort();
}
