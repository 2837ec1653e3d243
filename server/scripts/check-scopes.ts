import 'reflect-metadata';
import { getSchema } from '../schema.js';
import { declaredAccess } from '../shared/scopes.js';

/**
 * Deny by default, checked: every root field (Query, Mutation, Subscription) must declare how
 * API tokens may reach it — `@RequiresScope(…)`, `@SessionOnly()`, `@Public()`,
 * `@AnyViewer()` or `@ScopeByArgument()`. A field declaring nothing is already refused to
 * tokens at run time; this makes the omission fail `npm run check` instead of going unnoticed.
 */
const schema = await getSchema();
const undeclared: string[] = [];
for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
  if (!root) continue;
  for (const field of Object.values(root.getFields())) {
    if (!declaredAccess(field.extensions as Record<string, unknown>)) undeclared.push(`${root.name}.${field.name}`);
  }
}
if (undeclared.length) {
  process.stderr.write(
    `Root fields without a declared scope (add @RequiresScope, @SessionOnly, @Public, @AnyViewer or @ScopeByArgument):\n  ${undeclared.join('\n  ')}\n`,
  );
  process.exit(1);
}
process.stdout.write('every root field declares its API token scope.\n');
