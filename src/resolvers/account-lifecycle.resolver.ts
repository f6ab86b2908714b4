import { GraphQLScalarType } from 'graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { viewerOf } from '../context';
import { AccountLifecycleService } from '../services/account-lifecycle.service';
import { ChangeNumberInput } from './types/change-number.input';
import { Registration } from './types/registration.type';

/**
 * graphql-scalars' JSONObject without its @specifiedBy URL: introspection does not carry it by
 * default, and the schema a client reads must be the committed schema.graphql.
 */
const JSONObject = new GraphQLScalarType({ ...GraphQLJSONObject.toConfig(), specifiedByURL: null });

@Resolver()
export class AccountLifecycleResolver {
  constructor(private readonly lifecycle: AccountLifecycleService) {}

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "This device's ukey stops working and its cid is cleared (no more pushes); the account stays, for a register with an SMS code later",
  })
  signOut(@Ctx() ctx: Context): Promise<boolean> {
    return this.lifecycle.signOut(viewerOf(ctx));
  }

  @Authorized()
  @Mutation(() => Registration, {
    description:
      'Moves the account to another number, with the code sent to that number: same uid, friends, groups, settings and pending images; a new ukey (the old one stops working at once). A number that already has an account is BAD_USER_INPUT',
  })
  changeNumber(@Arg('input', () => ChangeNumberInput) input: ChangeNumberInput, @Ctx() ctx: Context): Promise<Registration> {
    return this.lifecycle.changeNumber(viewerOf(ctx), input, ctx.ip);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      'Deletes the account at once and for good: its settings, friends, requests, blocks, group memberships and messages; images sent to it are destroyed (their senders get receipts, reason receiver_gone), and so are the images it sent that are still pending',
  })
  deleteAccount(@Ctx() ctx: Context): Promise<boolean> {
    return this.lifecycle.deleteAccount(viewerOf(ctx).uid);
  }

  @Authorized()
  @Query(() => JSONObject, {
    description:
      'Everything the server holds about the viewer, as one JSON document: profile (with the phone number), settings, public key, friends, requests, blocks, groups and the metadata of messages sent and received. Once an hour',
  })
  exportMyData(@Ctx() ctx: Context): Promise<Record<string, unknown>> {
    return this.lifecycle.exportMyData(viewerOf(ctx));
  }
}
