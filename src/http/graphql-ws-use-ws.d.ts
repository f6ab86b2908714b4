// TypeScript's "node" resolution ignores package exports; at run time Node resolves the subpath.
declare module 'graphql-ws/use/ws' {
  export * from 'graphql-ws/dist/use/ws';
}
