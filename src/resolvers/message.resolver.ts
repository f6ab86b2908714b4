import { GraphQLUpload } from 'graphql-upload-ts';
import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context';
import { numbersOf, viewerOf } from '../context';
import { Group } from '../entities/group.entity';
import { Message } from '../entities/message.entity';
import { User } from '../entities/user.entity';
import { GroupService } from '../services/group.service';
import { ImageDownloadService } from '../services/image-download.service';
import { ImageInboxService } from '../services/image-inbox.service';
import { ImageSendService, IncomingFile } from '../services/image-send.service';
import type { SentImageView } from '../services/sent-image';
import { SentImagesService } from '../services/sent-images.service';
import { SentImage } from './types/sent-image.type';

@Resolver(() => Message)
export class MessageResolver {
  constructor(
    private readonly sending: ImageSendService,
    private readonly inbox: ImageInboxService,
    private readonly sent: SentImagesService,
    private readonly downloads: ImageDownloadService,
    private readonly groupService: GroupService,
  ) {}

  @Authorized()
  @Mutation(() => Message, { description: 'Sends a view-once image (multipart request). size: the file bytes, when known' })
  sendImage(
    @Arg('receiverUid', () => Int) receiverUid: number,
    // TypeGraphQL awaits the Upload promise: this runs once the file part starts, bytes still arriving.
    @Arg('image', () => GraphQLUpload) image: IncomingFile,
    @Arg('size', () => Int, { nullable: true }) size: number | null,
    @Arg('ttlSeconds', () => Int, {
      nullable: true,
      description: "The image's lifetime: 60 up to the server's IMAGE_TTL_SECONDS (the default)",
    })
    ttlSeconds: number | null,
    @Arg('sealed', () => Boolean, {
      nullable: true,
      description:
        "The bytes are end-to-end encrypted by the client (to the receiver's publicKey): stored unread, filetype application/octet-stream",
    })
    sealed: boolean | null,
    @Ctx() ctx: Context,
  ): Promise<Message> {
    return this.sending.send(viewerOf(ctx), receiverUid, image, size, { ttlSeconds, sealed });
  }

  @Authorized()
  @Query(() => [SentImage], {
    description:
      "What happened to the viewer's sent images, newest first. A message is listed until MESSAGE_RETENTION_DAYS (30 by default) after it ended; then its row is deleted",
  })
  sentImages(@Ctx() ctx: Context): Promise<SentImageView[]> {
    return this.sent.list(viewerOf(ctx));
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'The receiver took a screenshot of the image: its sender is told' })
  reportScreenshot(@Arg('messageKey', () => String) messageKey: string, @Ctx() ctx: Context): Promise<boolean> {
    return this.inbox.reportScreenshot(viewerOf(ctx), messageKey);
  }

  @Authorized()
  @Mutation(() => [Message], { description: 'Sends one image to every other member of the group (multipart request): one message each' })
  sendGroupImage(
    @Arg('groupId', () => Int) groupId: number,
    @Arg('image', () => GraphQLUpload) image: IncomingFile,
    @Arg('size', () => Int, { nullable: true }) size: number | null,
    @Ctx() ctx: Context,
  ): Promise<Message[]> {
    return this.sending.sendToGroup(viewerOf(ctx), groupId, image, size);
  }

  @Authorized()
  @Mutation(() => Message, { description: 'The receiver has the image: the blob is deleted and exist becomes false' })
  confirmDownload(@Arg('messageKey', () => String) messageKey: string, @Ctx() ctx: Context): Promise<Message> {
    return this.inbox.confirm(viewerOf(ctx), messageKey);
  }

  @Authorized()
  @Query(() => Message, { description: 'One message addressed to the viewer' })
  image(@Arg('messageKey', () => String) messageKey: string, @Ctx() ctx: Context): Promise<Message> {
    return this.inbox.get(viewerOf(ctx), messageKey);
  }

  @Authorized()
  @Query(() => [Message], { description: "The viewer's pending images, oldest first, optionally from one sender" })
  images(
    @Arg('senderPhoneHash', () => String, { nullable: true }) senderPhoneHash: string | null,
    @Ctx() ctx: Context,
  ): Promise<Message[]> {
    return this.inbox.listPending(viewerOf(ctx), senderPhoneHash);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'Only for the receiver while exist is true: a short-lived URL a plain GET can fetch',
  })
  async downloadUrl(@Root() message: Message, @Ctx() ctx: Context): Promise<string | null> {
    if (!ctx.viewer) return null;
    ctx.downloadGrants ??= this.downloads.grantLoader();
    return this.downloads.downloadUrl(ctx.viewer, message, ctx.downloadGrants);
  }

  @FieldResolver(() => User, { description: "Who sent it. Its receiver is shown the sender's phoneHash, which the push already carried" })
  sender(@Root() message: Message, @Ctx() ctx: Context): User {
    if (ctx.viewer && message.receiverUid === ctx.viewer.uid) numbersOf(ctx).reveal([message.senderUid]);
    return message.sender;
  }

  @FieldResolver(() => Group, {
    nullable: true,
    description: 'The group it was sent to (shown to its members); null for a one-to-one send',
  })
  group(@Root() message: Message, @Ctx() ctx: Context): Promise<Group | null> | null {
    if (message.groupId == null || !ctx.viewer) return null;
    ctx.visibleGroups ??= this.groupService.visibleGroupLoader(ctx.viewer);
    return ctx.visibleGroups.load(message.groupId);
  }
}
