import { Field, InputType, ObjectType } from 'type-graphql';
import { FriendshipState } from '../../entities/friendship.entity';
import { User, WhoCanSend } from '../../entities/user.entity';

@ObjectType('Friendship', { description: 'Where the viewer stands with another user' })
export class FriendshipResult {
  @Field(() => User)
  user: User;

  @Field(() => FriendshipState)
  state: FriendshipState;
}

@ObjectType({ description: 'Pending friend requests, newest first' })
export class FriendRequests {
  @Field(() => [User], { description: 'Users who asked the viewer' })
  incoming: User[];

  @Field(() => [User], { description: 'Users the viewer asked' })
  outgoing: User[];
}

@ObjectType({ description: "The viewer's privacy settings" })
export class Settings {
  @Field(() => WhoCanSend, { description: 'EVERYONE (the default) or FRIENDS: who may send the viewer images one-to-one' })
  whoCanSendMe: WhoCanSend;

  @Field(() => Boolean, { description: 'False hides the viewer from contact discovery' })
  discoverable: boolean;

  @Field(() => Boolean, { description: 'Whether a registration lock PIN is set (setRegistrationLock)' })
  registrationLock: boolean;
}

@InputType({ description: 'Settings to change; a field left out keeps its value' })
export class SettingsInput implements Partial<User> {
  @Field(() => WhoCanSend, { nullable: true })
  whoCanSendMe?: WhoCanSend;

  @Field(() => Boolean, { nullable: true })
  discoverable?: boolean;
}
