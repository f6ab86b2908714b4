import { Authorized, Ctx, FieldResolver, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import { viewerOf } from '../context';
import { Message } from '../entities/message.entity';
import { User } from '../entities/user.entity';
import { NotFoundError, UnauthenticatedError } from '../errors';
import { ImageInboxService } from '../services/image-inbox.service';
import type { RealtimeEvent } from '../services/realtime.events';
import type { RealtimeSession } from '../services/realtime.service';
import { SocialService } from '../services/social.service';
import { Event } from './types/event.type';

function sessionOf(ctx: Context): RealtimeSession {
  if (!ctx.realtime) throw new UnauthenticatedError('Subscriptions are served over WebSocket (graphql-transport-ws) on /graphql');
  return ctx.realtime;
}

@Resolver(() => Event)
export class EventResolver {
  constructor(
    private readonly inbox: ImageInboxService,
    private readonly social: SocialService,
  ) {}

  @Authorized()
  @Subscription(() => Event, {
    description: "The viewer's events from now on, while the connection lasts (WebSocket, graphql-transport-ws)",
    subscribe: ({ context }) => sessionOf(context as Context).events(),
  })
  events(@Root() event: RealtimeEvent, @Ctx() ctx: Context): RealtimeEvent {
    // One context serves the whole subscription: each event is resolved for the viewer as last
    // checked, with no per-request cache carried over from the previous event.
    ctx.viewer = sessionOf(ctx).viewer;
    ctx.visibleGroups = undefined;
    return event;
  }

  @FieldResolver(() => Message, {
    nullable: true,
    description: 'IMAGE_RECEIVED: the message, as the image query answers it (null once it is gone)',
  })
  async message(@Root() event: RealtimeEvent, @Ctx() ctx: Context): Promise<Message | null> {
    if (!event.messageKey) return null;
    try {
      return await this.inbox.get(viewerOf(ctx), event.messageKey);
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
  }

  @FieldResolver(() => User, { nullable: true, description: 'FRIEND_REQUEST: who asked; FRIEND_ACCEPTED: who accepted' })
  user(@Root() event: RealtimeEvent, @Ctx() ctx: Context): Promise<User | null> | null {
    return event.userUid == null ? null : this.social.person(viewerOf(ctx), event.userUid);
  }
}
