// The list-page anchor on PostgreSQL: PostGraphile 5 (amber preset, many-to-many relations)
// over Roster's own tables, in its own process, for the same pages: users ⋈ directory and each
// user's groups through group_memberships; groups with their memberships' totalCount; MFA users
// with their devices. Statements are counted at the pg driver (every
// `Client.query`), as Roster counts its own in the database layer.
if (!Promise.withResolvers) {
  // Node 20 has no Promise.withResolvers; PostGraphile 5 uses it.
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const { createServer } = await import('node:http');
const pg = (await import('pg')).default;
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  statements++;
  return query.apply(this, args);
};
const { postgraphile } = await import('postgraphile');
const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
const { makePgService } = await import('postgraphile/adaptors/pg');
const { grafserv } = await import('postgraphile/grafserv/node');
const { PgManyToManyPreset } = await import('@graphile-contrib/pg-many-to-many');

const preset = {
  extends: [PostGraphileAmberPreset, PgManyToManyPreset],
  // The schema is not shaped by Roster's indexes: by default PostGraphile drops the orderBy
  // values of columns no index contains and the relations whose keys none covers (users.email
  // lost EMAIL_ASC when Roster dropped an index it did not use, migration 0021; memberships'
  // (group_id, tenant_id) key is covered by no index of theirs). The plugin changes only which
  // fields exist, not the SQL of the fields asked for.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ['public'], poolConfig: { max: 10 } })],
  grafserv: { graphqlPath: '/graphql', graphiql: false },
  grafast: { explain: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
await serv.addTo(server);
const schema = await pgl.getSchema();
server.listen(0, '127.0.0.1', () => {
  const fieldsOf = (type) => Object.keys(schema.getType(type)?.getFields() ?? {});
  const ordersOf = (type) => (schema.getType(type)?.getValues?.() ?? []).map((v) => v.name);
  process.send({
    type: 'ready',
    port: server.address().port,
    userFields: fieldsOf('User'),
    groupFields: fieldsOf('Group'),
    mfaUserFields: fieldsOf('MfaUser'),
    groupOrders: ordersOf('GroupOrderBy'),
    mfaUserOrders: ordersOf('MfaUserOrderBy'),
  });
});
process.on('message', (m) => {
  if (m?.type === 'statements') process.send({ type: 'statements', count: statements });
});
process.on('SIGTERM', () => process.exit(0));
