import type { ImageRepository } from '../repositories/image.repository';
import type { SecretRepository } from '../repositories/secret.repository';
import type { KeyWrapper } from './cipher/key-wrapper';
import { LEGACY_KEY_CHECK } from './server-secrets';

export interface RewrapOptions {
  /** Image keys read and written per transaction. */
  batchSize: number;
  /** Stop after this many batches (a run in slices); the next run goes on from there. */
  maxBatches?: number;
  /** Told after every batch. */
  onBatch?: (progress: { images: number; batches: number }) => void;
}

export interface RewrapReport {
  /** Server secrets now wrapped under the current key by this run. */
  secrets: number;
  /** Image keys re-wrapped under the current key by this run. */
  images: number;
  /** Image keys left alone because they changed meanwhile (destroyed, or re-wrapped by another run). */
  skipped: number;
  /** Rows wrapped by a master key this process does not have, by key id. */
  unreadable: Record<string, number>;
  /** Live image keys and secrets still not under the current key once the run ends. */
  left: number;
}

/**
 * Moves every live image key and server secret onto the current master key after a rotation.
 * Safe beside serving instances: each row is rewritten only if it still holds the wrap that was
 * read (a key destroyed meanwhile stays destroyed, a row another run moved is left), and every
 * batch commits on its own, so a run that is stopped or killed loses nothing and the next one
 * finds only what is left.
 */
export class RewrapService {
  constructor(
    private readonly images: Pick<ImageRepository, 'pageWrappedKeys' | 'replaceWrappedKeys' | 'countWrappedNotUnder'>,
    private readonly secrets: SecretRepository,
    private readonly keys: KeyWrapper,
  ) {}

  async run(options: RewrapOptions): Promise<RewrapReport> {
    const report: RewrapReport = { secrets: 0, images: 0, skipped: 0, unreadable: {}, left: 0 };
    const unreadable = (keyId: string | null) => {
      const id = keyId ?? 'unknown';
      report.unreadable[id] = (report.unreadable[id] ?? 0) + 1;
    };

    for (const row of await this.secrets.list()) {
      // The check value of earlier versions is no secret; the server removes it at start.
      if (row.keyId === this.keys.keyId || row.name === LEGACY_KEY_CHECK) continue;
      if (row.keyId !== null && !this.keys.knows(row.keyId)) {
        unreadable(row.keyId);
        continue;
      }
      const value = row.keyId === null ? row.value : this.keys.unwrapSecret(row.value, row.name, row.keyId);
      if (await this.secrets.replace(row, { value: this.keys.wrapSecret(value, row.name), keyId: this.keys.keyId })) report.secrets++;
    }

    let afterId = 0;
    for (let batches = 0; options.maxBatches === undefined || batches < options.maxBatches;) {
      const page = await this.images.pageWrappedKeys(this.keys.keyId, afterId, options.batchSize);
      if (page.length === 0) break;
      const changes = [];
      for (const row of page) {
        if (row.keyId !== null && !this.keys.knows(row.keyId)) {
          unreadable(row.keyId);
          continue;
        }
        try {
          const key = this.keys.unwrap(row.wrappedKey, row.objectName, row.keyId);
          changes.push({ from: row, wrappedKey: this.keys.wrap(key, row.objectName), keyId: this.keys.keyId });
        } catch {
          unreadable(row.keyId);
        }
      }
      const changed = await this.images.replaceWrappedKeys(changes);
      report.images += changed;
      report.skipped += changes.length - changed;
      afterId = page[page.length - 1].id;
      batches++;
      options.onBatch?.({ images: report.images, batches });
    }

    const secretsLeft = (await this.secrets.list()).filter((r) => r.keyId !== this.keys.keyId && r.name !== LEGACY_KEY_CHECK).length;
    report.left = secretsLeft + (await this.images.countWrappedNotUnder(this.keys.keyId));
    return report;
  }
}
