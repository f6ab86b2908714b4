/** The environment as loadConfig is given it (process.env, or a test's own). */
export type Env = Record<string, string | undefined>;

/**
 * Reads variables and collects what is wrong with them instead of stopping at the first: a bad
 * value is noted and its default used, so that one message can name every bad variable.
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(readonly env: Env) {}

  /** Notes a problem; its text starts with the variable's name. */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** The value, or `fallback` when unset or empty. */
  str(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? fallback : v;
  }

  /** A whole number from `min` to `max`. */
  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) {
      this.problem(`${name}: expected a whole number, got "${raw}"`);
      return fallback;
    }
    const n = Number(raw.trim());
    if (n < min || n > max) {
      this.problem(`${name}: must be between ${min} and ${max}, got ${n}`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.str(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      this.problem(`${name}: must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.env[name];
    if (v === undefined || v === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.problem(`${name}: expected true or false, got "${v}"`);
    return fallback;
  }
}
