// The ceiling: a pass-through fetch to the upstream and nothing else (same method, path, query,
// headers and body; redirects handed back as Portcullis does).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
  },
};
