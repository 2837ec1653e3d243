import type { ApolloServerPlugin } from '@apollo/server';

/**
 * GraphQL over HTTP (the spec graphql-http audits): a request that is well-formed JSON but whose
 * document does not parse, does not validate, or whose variables do not coerce, is answered
 * `200` when the client asked for `application/json` (the legacy media type, whose clients read
 * errors from the body whatever the status), and `4xx` for `application/graphql-response+json`.
 * Apollo Server answers 400 for both; this plugin sets 200 for the first case.
 *
 * Only when the Accept header names `application/json` itself (preferred over
 * `application/graphql-response+json`): a wildcard (`*\/*`, what fetch sends by default) keeps
 * the 400 existing callers see. Our own refusals before execution (`OPERATION_TOO_COMPLEX`,
 * `PAYLOAD_TOO_LARGE`, a malformed JSON body) keep their status.
 */
const REQUEST_ERROR_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT']);

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json';

/** Whether `accept` names application/json explicitly and prefers it to application/graphql-response+json. */
export function asksForPlainJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json: { q: number; at: number } | null = null;
  let response: { q: number; at: number } | null = null;
  accept.split(',').forEach((part, at) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) return;
    if (type === JSON_TYPE && (!json || q > json.q)) json = { q, at };
    if (type === GRAPHQL_RESPONSE_TYPE && (!response || q > response.q)) response = { q, at };
  });
  const j = json as { q: number; at: number } | null;
  const r = response as { q: number; at: number } | null;
  if (!j || j.q <= 0) return false;
  return !r || j.q > r.q || (j.q === r.q && j.at < r.at);
}

export function applicationJsonStatusPlugin<C extends object>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.http.status !== 400 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          // A request error: no execution happened, so the result has no `data` entry at all.
          if ('data' in result || !result.errors?.length) return;
          if (!result.errors.every((e) => REQUEST_ERROR_CODES.has(String(e.extensions?.code)))) return;
          if (!asksForPlainJson(request.http?.headers.get('accept'))) return;
          response.http.status = 200;
        },
      };
    },
  };
}
