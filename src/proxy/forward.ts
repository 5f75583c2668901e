/**
 * Forwards a request to the upstream (SPEC §3.4, §3.6): same method, path and query, bodies
 * streamed both ways, redirects handed back to the client (never followed, so credentials are
 * never replayed elsewhere). No response headers within UPSTREAM_TIMEOUT_MS → 504; connection
 * failure → 502. A client that goes away aborts the upstream request.
 */
import { ApiError } from "../errors";
import { hopByHopNames, type HeaderList } from "./headers";

const bases = new WeakMap<URL, string>();

/** UPSTREAM_URL without query, fragment or trailing slash: what request paths are appended to. */
function upstreamBase(upstream: URL): string {
  let base = bases.get(upstream);
  if (base === undefined) {
    const url = new URL(upstream.toString());
    url.search = "";
    url.hash = "";
    base = url.toString().replace(/\/+$/, "");
    bases.set(upstream, base);
  }
  return base;
}

/**
 * The upstream URL for a request: the upstream's base path, then the request's path and query
 * as sent. Through a service binding without UPSTREAM_URL (SPEC §3.2) there is no other origin:
 * the request keeps its own.
 */
export function upstreamTarget(upstream: URL | null, requestUrl: URL): string {
  return (upstream === null ? requestUrl.origin : upstreamBase(upstream)) + requestUrl.pathname + requestUrl.search;
}

/**
 * The list as a record for fetch(): the runtime converts a record of ~20 headers in a third of
 * the time it takes for the same pairs as a list of arrays (measured in workerd). No prototype,
 * so no header name can reach Object.prototype; a repeated name is joined as Headers would.
 */
function headerRecord(headers: HeaderList, hasBody: boolean): Record<string, string> {
  const record = Object.create(null) as Record<string, string>;
  for (const [name, value] of headers) {
    // A length announcing a body we do not send would leave the upstream waiting for it.
    if (!hasBody && name === "content-length") continue;
    const seen = record[name];
    record[name] = seen === undefined ? value : `${seen}, ${value}`;
  }
  return record;
}

/** `via` is the UPSTREAM service binding when there is one (SPEC §3.2), else the public fetch. */
export async function forward(request: Request, target: string, headers: HeaderList, timeoutMs: number, via: Fetcher | null = null): Promise<Response> {
  const client = request.signal;
  // The client may have gone while we were authenticating: then never start the upstream call.
  if (client?.aborted) throw new ApiError("client_closed_request", "The client closed the request before the upstream answered.");
  // The deadline covers the response headers only (a timer signal would also cut a long body).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("upstream timeout"));
  }, timeoutMs);
  const onClientAbort = () => controller.abort(new Error("client aborted"));
  client?.addEventListener("abort", onClientAbort);
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  const init: RequestInit = { method: request.method, headers: headerRecord(headers, hasBody), body: hasBody ? request.body : null, redirect: "manual", signal: controller.signal };
  let response: Response;
  try {
    response = await (via === null ? fetch(target, init) : via.fetch(target, init));
  } catch (err) {
    if (timedOut) {
      throw new ApiError("gateway_timeout", `The upstream did not answer within ${timeoutMs} ms.`);
    }
    if (client?.aborted) {
      throw new ApiError("client_closed_request", "The client closed the request before the upstream answered.");
    }
    console.error("portcullis: upstream unreachable", err instanceof Error ? err.message : String(err));
    throw new ApiError("bad_gateway", "The upstream could not be reached.");
  } finally {
    clearTimeout(timer);
    client?.removeEventListener("abort", onClientAbort);
  }
  // The upstream's own response (status, status text, headers, the streamed body), minus any
  // hop-by-hop header: copied only when there is one to remove.
  const hopByHop = hopByHopNames(response.headers);
  if (hopByHop.length === 0) return response;
  const relayed = new Response(response.body, response);
  for (const name of hopByHop) relayed.headers.delete(name);
  return relayed;
}
