import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { numbersOf, viewerOf } from '../context';
import { FriendshipState } from '../entities/friendship.entity';
import { User } from '../entities/user.entity';
import { SocialService } from '../services/social.service';
import { FriendRequests, FriendshipResult, Settings, SettingsInput } from './types/social.types';

@Resolver()
export class SocialResolver {
  constructor(private readonly social: SocialService) {}

  @Authorized()
  @Query(() => [User], {
    description: 'Registered, discoverable users among the phone hashes (at most 1000 per call, counted against a daily budget)',
  })
  async discoverContacts(@Arg('phoneHashes', () => [String]) phoneHashes: string[], @Ctx() ctx: Context): Promise<User[]> {
    const found = await this.social.discoverContacts(viewerOf(ctx), phoneHashes);
    // The viewer sent these hashes: the answer tells it nothing of the numbers it did not have.
    numbersOf(ctx).reveal(found.map((u) => u.uid));
    return found;
  }

  @Authorized()
  @Mutation(() => FriendshipResult, {
    description: 'Asks the user for friendship; accepts instead when that user already asked the viewer',
  })
  async requestFriend(@Arg('uid', () => Int) uid: number, @Ctx() ctx: Context): Promise<FriendshipResult> {
    const result = await this.social.requestFriend(viewerOf(ctx), uid);
    if (result.state === FriendshipState.FRIENDS) numbersOf(ctx).reveal([result.user.uid]);
    return result;
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Unfriends; also declines an incoming or cancels an outgoing request' })
  removeFriend(@Arg('uid', () => Int) uid: number, @Ctx() ctx: Context): Promise<boolean> {
    return this.social.removeFriend(viewerOf(ctx), uid);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Ends friendship and requests both ways; the blocked user is never told' })
  block(@Arg('uid', () => Int) uid: number, @Ctx() ctx: Context): Promise<boolean> {
    return this.social.block(viewerOf(ctx), uid);
  }

  @Authorized()
  @Mutation(() => Boolean)
  unblock(@Arg('uid', () => Int) uid: number, @Ctx() ctx: Context): Promise<boolean> {
    return this.social.unblock(viewerOf(ctx), uid);
  }

  @Authorized()
  @Query(() => [User], { description: "The viewer's friends, most recent first" })
  async friends(@Ctx() ctx: Context): Promise<User[]> {
    const friends = await this.social.friends(viewerOf(ctx));
    numbersOf(ctx).reveal(friends.map((u) => u.uid));
    return friends;
  }

  @Authorized()
  @Query(() => FriendRequests, { description: 'Incoming and outgoing friend requests, newest first' })
  friendRequests(@Ctx() ctx: Context): Promise<FriendRequests> {
    return this.social.friendRequests(viewerOf(ctx));
  }

  @Authorized()
  @Query(() => [User], { description: 'Users the viewer blocked, most recent first' })
  blocked(@Ctx() ctx: Context): Promise<User[]> {
    return this.social.blocked(viewerOf(ctx));
  }

  @Authorized()
  @Query(() => Settings)
  settings(@Ctx() ctx: Context): Settings {
    return this.social.settings(viewerOf(ctx));
  }

  @Authorized()
  @Mutation(() => Settings)
  updateSettings(@Arg('input', () => SettingsInput) input: SettingsInput, @Ctx() ctx: Context): Promise<Settings> {
    return this.social.updateSettings(viewerOf(ctx), input);
  }
}
