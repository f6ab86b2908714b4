import { Field, InputType } from 'type-graphql';
import type { User } from '../../entities/user.entity';

@InputType({ description: 'The new number of the account and the code sent to it' })
export class ChangeNumberInput implements Partial<User> {
  @Field(() => String, { description: 'Country calling code, digits only (86, 1, 44)' })
  regionNum: string;

  @Field(() => String, { description: 'National number; spaces and dashes are ignored' })
  phoneNum: string;

  @Field(() => String, {
    description: 'The 6-digit code sent by SMS to the new number (requestVerificationCode); works once, for 10 minutes',
  })
  verificationCode: string;
}
