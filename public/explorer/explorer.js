// GraphiQL for Roster, from the installed packages (no CDN). Queries and mutations go over
// HTTP; subscriptions over the graphql-ws websocket on the same URL. The headers editor's
// `Authorization: Bearer <token>` is sent on HTTP and, as connection_init's `authorization`,
// on the websocket (read when the socket connects).
(function () {
  'use strict';
  var url = window.location.origin + '/graphql';
  function savedHeaders() {
    try {
      return JSON.parse(window.localStorage.getItem('graphiql:headers') || '{}') || {};
    } catch {
      return {};
    }
  }
  var wsClient = window.graphqlWs.createClient({
    url: url.replace(/^http/, 'ws'),
    lazy: true,
    connectionParams: function () {
      var h = savedHeaders();
      var auth = h.Authorization || h.authorization;
      return auth ? { authorization: auth } : {};
    },
  });
  var fetcher = window.GraphiQL.createFetcher({ url: url, wsClient: wsClient });
  var root = window.ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      shouldPersistHeaders: true,
      defaultQuery:
        '# Sign in with the login mutation, then put {"Authorization": "Bearer <token>"} in the Headers tab.\nmutation Login {\n  login(input: { tenant: "demo", email: "admin@demo.test", password: "…" }) {\n    token\n    errors { code message }\n  }\n}\n',
    }),
  );
})();
