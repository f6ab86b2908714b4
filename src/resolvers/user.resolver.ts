import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context';
import { numbersOf, viewerOf } from '../context';
import { User } from '../entities/user.entity';
import { AccountService } from '../services/account.service';
import type { FriendLookup } from '../services/number-visibility';
import { RegisterInput } from './types/register.input';
import { Registration } from './types/registration.type';

@Resolver(() => User)
export class UserResolver {
  constructor(
    private readonly accounts: AccountService,
    private readonly friends: FriendLookup,
  ) {}

  @Mutation(() => Registration, {
    description:
      'With the SMS code: a new phone creates the user; a known phone moves the account to this device (new ukey, new cid), with registrationLockPin when the account has a lock; a move destroys the images pending for the account and tells the old device',
  })
  async register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: Context): Promise<Registration> {
    const registration = await this.accounts.register(input, ctx.ip);
    numbersOf(ctx).reveal([registration.uid]);
    return registration;
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

  @FieldResolver(() => String, {
    nullable: true,
    description:
      'Lowercase hex SHA-256 of the E.164 number ("+" + regionNum + phoneNum). Shown only to a viewer who already knows the number: the user themself, their friends, the answers to the viewer\'s own discoverContacts, and the sender of a message to its receiver; null for everyone else',
  })
  phoneHash(@Root() user: User, @Ctx() ctx: Context): string | null | Promise<string | null> {
    return numbersOf(ctx).shown(user.uid, user.phoneHash, this.friends);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'Country calling code, digits only (86, 1, 44); shown to the same viewers as phoneHash, null for everyone else',
  })
  regionNum(@Root() user: User, @Ctx() ctx: Context): string | null | Promise<string | null> {
    return numbersOf(ctx).shown(user.uid, user.regionNum, this.friends);
  }
}
