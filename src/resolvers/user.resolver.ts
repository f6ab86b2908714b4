import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { viewerOf } from '../context';
import { User } from '../entities/user.entity';
import { AccountService } from '../services/account.service';
import { RegisterInput } from './types/register.input';
import { Registration } from './types/registration.type';

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly accounts: AccountService) {}

  @Mutation(() => Registration, {
    description:
      'With the SMS code: a new phone creates the user; a known phone moves the account to this device (new ukey, new cid), with registrationLockPin when the account has a lock; a move destroys the images pending for the account and tells the old device',
  })
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: Context): Promise<Registration> {
    return this.accounts.register(input, ctx.ip);
  }

  @Authorized()
  @Query(() => User)
  me(@Ctx() ctx: Context): User {
    return viewerOf(ctx);
  }

  @Authorized()
  @Mutation(() => User, { description: "Publishes or replaces the viewer's X25519 public key (32 bytes, base64)" })
  setPublicKey(@Arg('publicKey', () => String) publicKey: string, @Ctx() ctx: Context): Promise<User> {
    return this.accounts.setPublicKey(viewerOf(ctx), publicKey);
  }

  @Authorized()
  @Mutation(() => User, { description: "The device's push client id changed" })
  updateCid(@Arg('cid', () => String) cid: string, @Ctx() ctx: Context): Promise<User> {
    return this.accounts.updateCid(viewerOf(ctx), cid);
  }
}
