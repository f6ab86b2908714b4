import { Field, InputType } from 'type-graphql';
import type { User } from '../../entities/user.entity';

@InputType({ description: 'A phone number and the device that registers it' })
export class RegisterInput implements Partial<User> {
  @Field(() => String, { description: "The device's GeTui push client id" })
  cid: string;

  @Field(() => String, { description: 'Country calling code, digits only (86, 1, 44)' })
  regionNum: string;

  @Field(() => String, { description: 'National number; spaces and dashes are ignored' })
  phoneNum: string;

  @Field(() => String, { description: '1 to 64 characters after trimming' })
  nickname: string;

  @Field(() => String, { description: 'The 6-digit code sent by SMS (requestVerificationCode); works once, for 10 minutes' })
  verificationCode: string;

  @Field(() => String, { nullable: true, description: "The device's X25519 public key (32 bytes, base64), for sealed sends" })
  publicKey?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The account's registration lock PIN: needed to register a number whose account has a lock (REGISTRATION_LOCKED otherwise)",
  })
  registrationLockPin?: string | null;
}
