import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { User } from '../../entities/user.entity';
import { DeliveryStatus, SentImageView } from '../../services/sent-image';

export { DeliveryStatus };

registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  description: 'PENDING: not yet downloaded; DOWNLOADED: fully downloaded, not confirmed; VIEWED: confirmed; EXPIRED: ended unopened',
});

@ObjectType({ description: 'A message the viewer sent, as its sender sees it' })
export class SentImage implements SentImageView {
  @Field(() => Int, { description: 'The message id (as in the image_destroyed and screenshot pushes)' })
  id: number;

  @Field(() => User)
  receiver: User;

  @Field(() => Date)
  sendTime: Date;

  @Field(() => DeliveryStatus)
  status: DeliveryStatus;

  @Field(() => Date, { nullable: true, description: 'The first complete download' })
  downloadedAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "When the image's key was destroyed (for a group send, with the last member's message)",
  })
  destroyedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the receiver reported a screenshot' })
  screenshotAt: Date | null;
}
