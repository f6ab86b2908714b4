import { expect } from 'chai';
import pino from 'pino';
import { HealthService } from '../../src/services/health.service';

describe('HealthService (unit)', () => {
  const log = pino({ level: 'silent' });
  const ok = async () => undefined;
  const down = async () => {
    throw new Error('ECONNREFUSED');
  };
  const hangs = () => new Promise<void>(() => undefined);

  it('is ready when every part answers', async () => {
    const health = new HealthService(
      [
        { name: 'database', ping: ok },
        { name: 'blobStore', ping: ok },
      ],
      log,
    );
    expect(await health.readiness()).to.deep.equal({ ready: true, checks: { database: 'ok', blobStore: 'ok' }, failing: [] });
  });

  it('names every part that fails, in order', async () => {
    const health = new HealthService(
      [
        { name: 'database', ping: down },
        { name: 'blobStore', ping: down },
      ],
      log,
    );
    expect(await health.readiness()).to.deep.equal({
      ready: false,
      checks: { database: 'failing', blobStore: 'failing' },
      failing: ['database', 'blobStore'],
    });
  });

  it('counts a part that never answers as failing instead of hanging the probe', async () => {
    const health = new HealthService(
      [
        { name: 'database', ping: hangs },
        { name: 'blobStore', ping: ok },
      ],
      log,
      20,
    );
    expect(await health.readiness()).to.deep.include({ ready: false, failing: ['database'] });
  });
});
