import { Field, Int, ObjectType } from 'type-graphql';
import { User } from '../../entities/user.entity';

@ObjectType({ description: 'The result of register: the device secret is shown here once, never again' })
export class Registration {
  @Field(() => Int)
  uid: number;

  @Field(() => String, { description: 'The device secret. Authenticate with `Authorization: Bearer <phoneHash>.<ukey>`' })
  ukey: string;

  @Field(() => String)
  phoneHash: string;

  @Field(() => User)
  user: User;
}
