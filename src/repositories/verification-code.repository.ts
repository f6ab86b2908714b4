import type { VerificationCode } from '../entities/verification-code.entity';

export interface NewVerificationCode {
  phoneHash: string;
  codeHash: string;
  sentAt: Date;
  expiresAt: Date;
}

/** Where verification codes live, one per phone. The service holds the rules. */
export interface VerificationCodeRepository {
  /** Stores a fresh code for the phone, replacing any earlier one (its tries and use start over). */
  replace(code: NewVerificationCode): Promise<void>;
  findByPhoneHash(phoneHash: string): Promise<VerificationCode | null>;
  /** Counts one wrong try unless the code is already burnt; true when it was counted. */
  countWrongTry(id: number, maxAttempts: number): Promise<boolean>;
  /** Marks the code used if it still is live and unchanged; false when another request got there first. */
  claim(id: number, codeHash: string, maxAttempts: number, now: Date): Promise<boolean>;
  /** Removes this phone's code if it is still the given one (a code whose SMS never left). */
  remove(phoneHash: string, codeHash: string): Promise<void>;
  /** Forgets up to `limit` codes that expired before `before`; answers how many went. */
  deleteExpired(before: Date, limit: number): Promise<number>;
}
