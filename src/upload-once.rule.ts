import { GraphQLError, type ASTVisitor, getNamedType, type ValidationContext } from 'graphql';

/**
 * A validation rule: an operation uses each Upload variable at most once. One upload is one live
 * stream that one send reads; a second use (two aliased sends of `$image`) could only fail after
 * the first had been stored, and its error would null the whole answer, so the client would
 * never learn that the first was sent. Fragments count once, as GraphQL runs a field they hold once.
 */
export function uploadUsedOnceRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition: {
      leave(operation) {
        const uses = new Map<string, number>();
        for (const { node, type } of context.getRecursiveVariableUsages(operation)) {
          if (!type || getNamedType(type).name !== 'Upload') continue;
          const name = node.name.value;
          uses.set(name, (uses.get(name) ?? 0) + 1);
          if (uses.get(name) === 2) {
            context.reportError(new GraphQLError(`The upload in variable "$${name}" can be used by one argument only.`, { nodes: node }));
          }
        }
      },
    },
  };
}
