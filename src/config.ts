import { databaseConfig, DatabaseSection } from './config/database';
import { encryptionConfig, EncryptionSection } from './config/encryption';
import { Env, EnvReader } from './config/env-reader';
import { imagesConfig, ImagesSection } from './config/images';
import { limitsConfig, LimitsSection } from './config/limits';
import { observabilityConfig, ObservabilitySection } from './config/observability';
import { pushConfig, PushSection } from './config/push';
import { realtimeConfig, RealtimeSection } from './config/realtime';
import { serverConfig, ServerSection } from './config/server';
import { smsConfig, SmsSection } from './config/sms';
import { storageConfig, StorageSection } from './config/storage';

/**
 * The only reader of process.env. Every variable is parsed and checked here, one section per
 * file of src/config/, and a bad value stops start-up with one message that names every bad
 * variable at once.
 */

export type { DatabaseConfig } from './config/database';
export { redactUrl } from './config/database';
export type { Env } from './config/env-reader';
export type { RateLimitName, RateLimitRule } from './config/limits';
export { RATE_LIMIT_DEFAULTS, RATE_LIMIT_NAMES } from './config/limits';
export type { TracingConfig } from './config/observability';
export type { GetuiConfig, PushConfig } from './config/push';
export type { RealtimeConfig } from './config/realtime';
export type { GraphqlLimits } from './config/server';
export type { AliyunSmsConfig } from './config/sms';
export type { S3Config } from './config/storage';
export * from './config/policy';

export interface Config
  extends
    ServerSection,
    DatabaseSection,
    StorageSection,
    PushSection,
    SmsSection,
    LimitsSection,
    ImagesSection,
    EncryptionSection,
    ObservabilitySection,
    RealtimeSection {}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(env);
  const server = serverConfig(r);
  const production = server.env === 'production';
  const config: Config = {
    ...server,
    ...databaseConfig(r, server.dataDir),
    ...storageConfig(r),
    ...pushConfig(r),
    ...smsConfig(r, production),
    ...limitsConfig(r),
    ...imagesConfig(r),
    ...encryptionConfig(r, production),
    ...observabilityConfig(r, production, server.port),
    ...realtimeConfig(r),
  };
  if (r.problems.length) throw new ConfigError(r.problems);
  return config;
}
