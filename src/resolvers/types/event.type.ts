import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { EventKind, RealtimeEvent } from '../../services/realtime.events';

export { EventKind };

registerEnumType(EventKind, {
  name: 'EventKind',
  description: 'What happened; each kind is also sent as the push of the same name',
});

@ObjectType({ description: 'Something that happened to the viewer: the same facts as the push it comes with' })
export class Event implements Pick<RealtimeEvent, 'kind' | 'at' | 'messageId' | 'reason' | 'receipt'> {
  @Field(() => EventKind)
  kind: EventKind;

  @Field(() => Date, { description: 'When it happened (a send: its send time; a destruction: destroyed_at)' })
  at: Date;

  @Field(() => Int, { nullable: true, description: 'IMAGE_RECEIVED, IMAGE_DESTROYED, SCREENSHOT: the message id' })
  messageId: number | null;

  @Field(() => String, { nullable: true, description: 'IMAGE_DESTROYED: viewed or expired' })
  reason: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'IMAGE_DESTROYED: base64url Ed25519 signature over glimpse-receipt-v1|<messageId>|<reason>|<at as ISO 8601>',
  })
  receipt: string | null;
}
