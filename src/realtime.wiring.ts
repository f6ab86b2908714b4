import Redis from 'ioredis';
import { OutboxPollEventFeed } from './adapters/outbox-poll.event-feed';
import { RedisEventFeed } from './adapters/redis.event-feed';
import { LocalSubscriptionSlots, RedisSubscriptionSlots } from './adapters/subscription-slots';
import type { Config } from './config';
import { StartupError } from './errors';
import type { Logger } from './logger';
import type { PushJobRepository } from './repositories/push-job.repository';
import type { Metrics } from './services/metrics';
import { Authenticator, RealtimeService } from './services/realtime.service';

/**
 * Subscriptions' parts, chosen by config: with REDIS_URL, events travel by Redis pub/sub and the
 * per-user limit counts across instances; without it, each instance reads the shared outbox
 * and counts its own subscriptions.
 */
export async function createRealtime(
  config: Config,
  jobs: PushJobRepository,
  auth: Authenticator,
  log: Logger,
  metrics?: Metrics,
): Promise<RealtimeService> {
  const options = { subscriptionsPerUser: config.realtime.subscriptionsPerUser, authCheckMs: config.realtime.authCheckMs, metrics };
  if (!config.redisUrl) {
    return new RealtimeService(
      { auth, feed: new OutboxPollEventFeed(jobs, config.realtime.pollMs, log), slots: new LocalSubscriptionSlots(), log },
      options,
    );
  }
  // Two connections: one in subscriber mode can send nothing else.
  const connect = async (role: string) => {
    const client = new Redis(config.redisUrl!, { lazyConnect: true, connectTimeout: 5000 });
    client.on('error', (err) => log.warn({ err }, `Redis (realtime ${role}) connection error`));
    await client.connect().catch((e: Error) => {
      client.disconnect();
      throw new StartupError(`cannot reach Redis for realtime events (REDIS_URL): ${e.message}`, { cause: e });
    });
    return client;
  };
  const publisher = await connect('publisher');
  const subscriber = await connect('subscriber').catch((e) => {
    publisher.disconnect();
    throw e;
  });
  const prefix = config.redisKeyPrefix;
  const feed = new RedisEventFeed(publisher, subscriber, `${prefix}events:`, jobs, log);
  return new RealtimeService({ auth, feed, slots: new RedisSubscriptionSlots(publisher, `${prefix}subscriptions:`, log), log }, options);
}
