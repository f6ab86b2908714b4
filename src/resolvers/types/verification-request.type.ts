import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A verification code is on its way by SMS (the code itself is never returned)' })
export class VerificationRequest {
  @Field(() => Date, { description: 'The code works until then (10 minutes), once' })
  expiresAt: Date;

  @Field(() => Date, { description: 'The next code for this number may be asked for from then on' })
  resendAfter: Date;
}
