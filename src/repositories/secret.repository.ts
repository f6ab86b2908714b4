/** A server-made secret as stored: wrapped by the master key `keyId` names, or plain (keyId null) from earlier versions. */
export interface StoredSecret {
  name: string;
  value: string;
  keyId: string | null;
}

/** Server-made secrets shared by every instance through the database. */
export interface SecretRepository {
  find(name: string): Promise<StoredSecret | null>;
  /** Stores the secret unless one of that name exists: when instances start together, the first write wins. */
  insertIfAbsent(secret: StoredSecret): Promise<void>;
  /** Stores `next` only if the row is still `expected` (another process may have changed it); true when it did. */
  replace(expected: StoredSecret, next: Pick<StoredSecret, 'value' | 'keyId'>): Promise<boolean>;
  list(): Promise<StoredSecret[]>;
  delete(name: string): Promise<void>;
}
