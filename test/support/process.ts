import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/** The built server's entry point, as `npm start` runs it. */
export const MAIN_JS = path.resolve(__dirname, '../../src/main.js');

export interface ServerProcess {
  child: ChildProcess;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the base URL once the server logs that it listens; rejects if it exits first. */
  listening: Promise<{ url: string; line: Record<string, unknown> }>;
  /** Resolves with the exit code (a signal counts as null). */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `node dist/src/main.js` as `npm start` would, with exactly `env` as its environment
 * (nothing is inherited) and `cwd` as its working folder.
 */
export function spawnServer(env: Record<string, string>, cwd: string): ServerProcess {
  const child = spawn(process.execPath, [MAIN_JS], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<{ url: string; line: Record<string, unknown> }>((resolve, reject) => {
    const look = () => {
      const complete = out.split('\n').slice(0, -1);
      for (const raw of complete) {
        if (!raw.startsWith('{')) continue;
        const line = JSON.parse(raw) as Record<string, unknown>;
        if (typeof line.msg === 'string' && line.msg.startsWith('Glimpse listening on')) {
          child.stdout!.off('data', look);
          return resolve({ url: String(line.url), line });
        }
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${err}${out}`)));
  });
  // A test that fails before stop() must not leave a server behind.
  listening.catch(() => undefined);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    listening,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Only what a shell gives a program it starts: no configuration of any kind. */
export function bareEnv(home: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
}
