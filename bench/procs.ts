export { freePort } from '../test/support/stack';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

/** A child process the bench started, and how to stop it. */
export interface Service {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The first line the service printed on stdout (helpers print their address as JSON). */
  firstLine: Promise<string>;
  /** What the service printed on stderr (for error messages). */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node <script>` as its own process (its own event loop, as in production) and waits
 * until `ready` says it is up. Every service gets SIGTERM on stop, so --cpu-prof can write out.
 */
export async function startService(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: (svc: Service) => Promise<void>,
  nodeArgs: string[] = [],
): Promise<Service> {
  const proc = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => {
    err = (err + c.toString('utf8')).slice(-8000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      if (out.includes('\n')) return;
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    // Keep draining stdout so a chatty child never blocks on a full pipe.
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${err}`)));
  });
  firstLine.catch(() => undefined);
  const svc: Service = {
    name,
    proc,
    pid: proc.pid!,
    firstLine,
    stderr: () => err,
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
  try {
    await Promise.race([ready(svc), exit.then(() => Promise.reject(new Error(`${name} exited before it was ready:\n${err}`)))]);
  } catch (e) {
    await svc.stop();
    throw e;
  }
  return svc;
}

/** Polls GET url until it answers 200. */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(url, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.once('error', () => resolve(false));
      req.setTimeout(2000, () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** VmRSS and VmHWM (peak since the last reset) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux 4.0+); false when the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `everyMs` until stopped; returns the highest seen. */
export function sampleRss(pid: number, everyMs = 5): { stop(): number } {
  let max = 0;
  const tick = () => {
    try {
      max = Math.max(max, memoryOf(pid).rss);
    } catch {
      /* the process is gone */
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      return max;
    },
  };
}

/**
 * CPU time a process has run, every thread of it (the collector's helpers included), in
 * nanoseconds: the scheduler's own count, so time spent waiting for a core is not in it.
 */
export function cpuNsOf(pid: number): number {
  let ns = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended meanwhile: its time is in none of the counts, before or after */
    }
  }
  return ns;
}
