import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { AuthChecker, buildSchema, ContainerType } from 'type-graphql';
import type { Context } from './context';
import { UnauthenticatedError } from './errors';
import { GroupResolver } from './resolvers/group.resolver';
import { MessageResolver } from './resolvers/message.resolver';
import { RegistrationLockResolver } from './resolvers/registration-lock.resolver';
import { SocialResolver } from './resolvers/social.resolver';
import { UserResolver } from './resolvers/user.resolver';
import { VerificationResolver } from './resolvers/verification.resolver';

export const resolvers = [UserResolver, MessageResolver, VerificationResolver, SocialResolver, GroupResolver, RegistrationLockResolver] as const;

const authChecker: AuthChecker<Context> = ({ context }) => {
  if (!context.viewer) throw new UnauthenticatedError();
  return true;
};

/** Builds the schema; `container` hands TypeGraphQL the resolver instances made in container.ts. */
export function createSchema(container: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    container,
    authChecker,
    validate: { forbidUnknownValues: false },
  });
}

/** The committed schema.graphql text: sorted, so it changes only when the schema does. */
export function printSchemaFile(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
