// The list-page anchor: a bare Apollo Server 5 on express 5 (Roster's own HTTP stack) in its
// own process, answering the same selection shapes (`users(first)` → nodes with id, email,
// groups { id name }, directory { id name }; `groups(first)` → id, name, memberCount;
// `mfaUsers(first)` → id, username, devices { id name }) from memory with graphql-js's default resolvers:
// what the framework costs with no database, no authentication and no resolver code. With the
// same two Apollo settings as Roster (compact JSON, no cache-control hook per field), so the
// ratio is Roster's own cost, not a difference of configuration.
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { buildSchema } from 'graphql';

const schema = buildSchema(`
  type Directory { id: ID! name: String! }
  type Group { id: ID! name: String! }
  type User { id: ID! email: String firstName: String lastName: String status: String! groups: [Group!]! directory: Directory! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type UserConnection { nodes: [User!]! pageInfo: PageInfo! totalCount: Int! }
  type GroupNode { id: ID! name: String! description: String memberCount: Int! }
  type GroupConnection { nodes: [GroupNode!]! pageInfo: PageInfo! totalCount: Int! }
  type MfaDevice { id: ID! name: String! kind: String! }
  type MfaUser { id: ID! username: String! email: String status: String! devices: [MfaDevice!]! }
  type MfaUserConnection { nodes: [MfaUser!]! pageInfo: PageInfo! totalCount: Int! }
  type Query {
    users(first: Int, after: String): UserConnection!
    groups(first: Int, after: String): GroupConnection!
    mfaUsers(first: Int, after: String): MfaUserConnection!
  }
`);
const users = Number(process.env.ANCHOR_USERS ?? 1000);
const directory = { id: 'RGlyZWN0b3J5OjE', name: 'Cloud Directory' };
const groups = Array.from({ length: 5 }, (_, i) => ({ id: `R3JvdXA6${i}`, name: `Group ${i}` }));
const all = Array.from({ length: users }, (_, i) => ({
  id: Buffer.from(`User:${i}`).toString('base64url'),
  email: `user${String(i).padStart(5, '0')}@bench.test`,
  firstName: `First${i}`,
  lastName: `Last${i}`,
  status: 'ACTIVE',
  groups,
  directory,
}));
const allGroups = Array.from({ length: 150 }, (_, i) => ({
  id: Buffer.from(`Group:${i}`).toString('base64url'),
  name: `Dept ${String(i).padStart(3, '0')}`,
  description: null,
  memberCount: 6,
}));
const allMfaUsers = Array.from({ length: users }, (_, i) => ({
  id: Buffer.from(`MfaUser:${i}`).toString('base64url'),
  username: `mfa${String(i).padStart(5, '0')}`,
  email: `mfa${String(i).padStart(5, '0')}@bench.test`,
  status: 'ENROLLED',
  devices: [{ id: Buffer.from(`MfaDevice:${i}`).toString('base64url'), name: 'Phone', kind: 'TOTP' }],
}));
const page = (list, first) => {
  const nodes = list.slice(0, Math.min(first ?? 50, 100));
  return { nodes, pageInfo: { hasNextPage: nodes.length < list.length, endCursor: null }, totalCount: list.length };
};
const rootValue = {
  users: ({ first }) => page(all, first),
  groups: ({ first }) => page(allGroups, first),
  mfaUsers: ({ first }) => page(allMfaUsers, first),
};
const app = express();
const httpServer = http.createServer(app);
const apollo = new ApolloServer({
  schema,
  rootValue,
  stringifyResult: (value) => JSON.stringify(value),
  plugins: [ApolloServerPluginCacheControlDisabled()],
});
await apollo.start();
app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(apollo));
httpServer.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: httpServer.address().port }));
process.on('SIGTERM', () => process.exit(0));
