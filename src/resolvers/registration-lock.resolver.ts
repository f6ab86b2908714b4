import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { viewerOf } from '../context';
import { RegistrationLockService } from '../services/registration-lock.service';
import { Settings } from './types/social.types';

@Resolver()
export class RegistrationLockResolver {
  constructor(private readonly lock: RegistrationLockService) {}

  @Authorized()
  @Mutation(() => Settings, {
    description:
      'Sets or changes the registration lock PIN (6 to 64 characters), or removes the lock (null): registering this number on another device then needs the PIN, until the account has not been seen for REGISTRATION_LOCK_DAYS',
  })
  setRegistrationLock(@Arg('pin', () => String, { nullable: true }) pin: string | null, @Ctx() ctx: Context): Promise<Settings> {
    return this.lock.set(viewerOf(ctx), pin ?? null);
  }
}
