import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { VerificationService } from '../services/verification.service';
import { VerificationRequest } from './types/verification-request.type';

@Resolver()
export class VerificationResolver {
  constructor(private readonly verification: VerificationService) {}

  @Mutation(() => VerificationRequest, {
    description: 'Sends a 6-digit code by SMS to the number, for register; rate limited per number and per client',
  })
  requestVerificationCode(
    @Arg('regionNum', () => String, { description: 'Country calling code, digits only (86, 1, 44)' }) regionNum: string,
    @Arg('phoneNum', () => String, { description: 'National number; spaces and dashes are ignored' }) phoneNum: string,
    @Ctx() ctx: Context,
  ): Promise<VerificationRequest> {
    return this.verification.request(regionNum, phoneNum, ctx.ip);
  }
}
