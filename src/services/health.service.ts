import type { Logger } from '../logger';

/** A part the server cannot serve requests without, and how to tell that it answers. */
export interface Dependency {
  /** Named in the readiness answer: `database`, `blobStore`. */
  name: string;
  /** Resolves when the part answers; rejects (or never settles) when it does not. */
  ping(): Promise<void>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, 'ok' | 'failing'>;
  /** The names of the parts that did not answer, in the order they were given. */
  failing: string[];
}

/** A part that has not answered within this is as good as down for a load balancer's probe. */
export const READINESS_TIMEOUT_MS = 2_000;

/** Readiness: whether every part a request needs answers right now. */
export class HealthService {
  constructor(
    private readonly dependencies: Dependency[],
    private readonly log: Logger,
    private readonly timeoutMs = READINESS_TIMEOUT_MS,
  ) {}

  async readiness(): Promise<Readiness> {
    const results = await Promise.all(this.dependencies.map((d) => this.check(d)));
    const checks: Readiness['checks'] = {};
    const failing: string[] = [];
    this.dependencies.forEach((d, i) => {
      checks[d.name] = results[i] ? 'ok' : 'failing';
      if (!results[i]) failing.push(d.name);
    });
    return { ready: failing.length === 0, checks, failing };
  }

  private async check(d: Dependency): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    // A part behind a dead network hangs rather than fails: the probe must answer regardless.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([d.ping(), timeout]);
      return true;
    } catch (err) {
      this.log.warn({ err, dependency: d.name }, 'readiness check failed');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
