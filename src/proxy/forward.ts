/**
 * Forwards a request to the upstream (SPEC §3.4, §3.6): same method, path and query, bodies
 * streamed both ways, redirects handed back to the client (never followed, so credentials are
 * never replayed elsewhere). No response headers within UPSTREAM_TIMEOUT_MS → 504; connection
 * failure → 502. A client that goes away aborts the upstream request.
 */
import { ApiError } from "../errors";
import { withoutHopByHop } from "./headers";

export function upstreamTarget(upstream: URL, requestUrl: URL): URL {
  const target = new URL(upstream.toString());
  target.pathname = upstream.pathname.replace(/\/+$/, "") + requestUrl.pathname;
  target.search = requestUrl.search;
  return target;
}

export async function forward(request: Request, target: URL, headers: Headers, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("upstream timeout"));
  }, timeoutMs);
  const onClientAbort = () => controller.abort(new Error("client aborted"));
  // The client may have gone while we were authenticating: then never start the upstream call.
  if (request.signal?.aborted) onClientAbort();
  else request.signal?.addEventListener("abort", onClientAbort);
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  // A length announcing a body we do not send would leave the upstream waiting for it.
  if (!hasBody) headers.delete("content-length");
  let response: Response;
  try {
    response = await fetch(target.toString(), {
      method: request.method,
      headers,
      body: hasBody ? request.body : null,
      redirect: "manual",
      signal: controller.signal,
    });
  } catch (err) {
    if (timedOut) {
      throw new ApiError("gateway_timeout", `The upstream did not answer within ${timeoutMs} ms.`);
    }
    if (request.signal?.aborted) {
      throw new ApiError("client_closed_request", "The client closed the request before the upstream answered.");
    }
    console.error("portcullis: upstream unreachable", err instanceof Error ? err.message : String(err));
    throw new ApiError("bad_gateway", "The upstream could not be reached.");
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", onClientAbort);
  }
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: withoutHopByHop(response.headers),
  });
}
