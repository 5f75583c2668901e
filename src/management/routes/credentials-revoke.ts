/**
 * POST /credentials/revoke: leaked-token reporting, public like GitHub's credential revocation
 * API. Whoever finds Portcullis tokens exposed (a secret scanner, a researcher, the owner)
 * posts them; every valid one is revoked at once, with a `token.revoked_leaked` event. The
 * answer is always the same 202, so the endpoint cannot tell anyone whether a string was a live
 * token. Malformed strings are dropped by the checksum without touching D1 (SPEC §2), and the
 * route is rate-limited per client IP (LEAK_REPORT_LIMITER) before the body is read.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { invalidateCached } from "../../auth/cache";
import { clientIp } from "../../auth/rate-limit";
import { guard, orm } from "../../db/client";
import { revokeLeakedTokens } from "../../db/leaks";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { nothingChanged } from "../../signals/after-change";
import { tokenDigest } from "../../token/digest";
import { parseToken } from "../../token/format";
import { errorResponses, json, type ManagementApp } from "../common";

/** The limiter's period (wrangler.toml `[[ratelimits]] LEAK_REPORT_LIMITER`). */
const LIMIT_PERIOD_SECONDS = 60;
export const MAX_CREDENTIALS = 1_000;

const RevokeBody = z
  .object({
    credentials: z
      .array(z.string().max(1_024))
      .min(1)
      .max(MAX_CREDENTIALS)
      .openapi({ description: `Up to ${MAX_CREDENTIALS} token strings found exposed.`, example: ["pcs_…"] }),
  })
  .strict()
  .openapi("LeakedCredentials");

const Accepted = z.object({ accepted: z.literal(true) }).openapi("LeakReportAccepted");

const route = createRoute({
  method: "post",
  path: "/credentials/revoke",
  operationId: "reportLeakedCredentials",
  security: [],
  tags: ["Leaked credentials"],
  summary: "Report leaked API tokens",
  description:
    "Public: no credential needed. Every valid token in the list is revoked immediately and an activity event " +
    "`token.revoked_leaked` is recorded in its organization. The answer is always 202 and never says which strings " +
    `were tokens. At most ${MAX_CREDENTIALS} entries and 64 KiB; rate-limited per client IP (429 with Retry-After).`,
  request: { body: { required: true, content: json(RevokeBody) } },
  responses: {
    202: { description: "Accepted; valid tokens among them are revoked", content: json(Accepted) },
    ...errorResponses(400, 413, 415, 429),
  },
});

/** Per-IP limit, checked before the body is read. A failing limiter is advisory, as for auth failures. */
const limitReports: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limiter = c.env.LEAK_REPORT_LIMITER;
  if (limiter) {
    let outcome: RateLimitOutcome = { success: true };
    try {
      outcome = await limiter.limit({ key: clientIp(c.req.raw) });
    } catch {
      // Reports must still get through when the limiter itself is down.
    }
    if (!outcome.success) {
      throw new ApiError("rate_limited", "Too many leak reports from this client; try again later.", {
        "retry-after": String(LIMIT_PERIOD_SECONDS),
      });
    }
  }
  return next();
};

export function registerCredentialsRevoke(app: ManagementApp): void {
  app.use("/credentials/revoke", limitReports);
  app.openapi(route, async (c) => {
    const { credentials } = c.req.valid("json");
    const config = c.get("config");
    const wellFormed = new Set<string>();
    for (const candidate of credentials) {
      const parsed = parseToken(candidate.trim());
      if (parsed.ok) wellFormed.add(parsed.token);
    }
    if (wellFormed.size > 0) {
      // During a pepper rotation a leaked token may still be stored under the previous pepper (SPEC §11).
      const peppers = config.tokenPepperPrevious ? [config.tokenPepper, config.tokenPepperPrevious] : [config.tokenPepper];
      const digests = await Promise.all([...wellFormed].flatMap((token) => peppers.map((pepper) => tokenDigest(token, pepper))));
      const revoked = await guard(() => revokeLeakedTokens(orm(c.env.DB), digests, Date.now()), {
        timeoutMs: config.dbTimeoutMs,
        retry: false,
      });
      if (revoked.length > 0) invalidateCached({ tokenIds: revoked });
      else nothingChanged(c);
    } else {
      nothingChanged(c);
    }
    return c.json({ accepted: true as const }, 202);
  });
}
