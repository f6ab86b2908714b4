/** Server-made secrets shared by every instance through the database. */
export interface SecretRepository {
  /** The stored value, or `make()`'s if none was stored; concurrent callers all get the same one. */
  getOrCreate(name: string, make: () => string): Promise<string>;
}
