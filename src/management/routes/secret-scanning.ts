/**
 * POST /secret-scanning/github (SPEC §10): GitHub's secret scanning partner endpoint. Public,
 * but only a report signed with one of GitHub's published keys is read (401 otherwise, nothing
 * revoked). Every live Portcullis token in it is revoked as leaked, exactly as
 * POST /credentials/revoke does (event `token.revoked_leaked`, webhook `token.leaked`), and the
 * answer labels each reported token as GitHub expects: `true_positive` when it was a live
 * token, `false_positive` otherwise, identified by the SHA-256 of the token, never the token.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { invalidateCached } from "../../auth/cache";
import { guard, orm } from "../../db/client";
import { revokeLeakedTokens } from "../../db/leaks";
import { liveDigests } from "../../db/secret-scanning";
import { ApiError } from "../../errors";
import { signalsConfig } from "../../signals/config";
import { nothingChanged } from "../../signals/after-change";
import { KeysUnavailableError, verifyReportSignature } from "../../signals/secret-scanning";
import { tokenDigest } from "../../token/digest";
import { parseToken } from "../../token/format";
import { errorResponses, json, type ManagementApp } from "../common";

export const MAX_REPORTED = 1_000;

const Label = z
  .object({
    token_hash: z.string().openapi({ description: "Hex SHA-256 of the reported token." }),
    token_type: z.string(),
    label: z.enum(["true_positive", "false_positive"]),
  })
  .openapi("SecretScanningLabel");

const route = createRoute({
  method: "post",
  path: "/secret-scanning/github",
  operationId: "reportGithubSecretScanning",
  tags: ["Leaked credentials"],
  summary: "GitHub secret scanning partner endpoint",
  description:
    "Public; called by GitHub. The body is a JSON array of `{token, type, url, source}`, signed with ECDSA P-256 (DER, base64 in " +
    "`Github-Public-Key-Signature`) by the key named in `Github-Public-Key-Identifier`, one of those published at " +
    "`SECRET_SCANNING_KEYS_URL`. A missing or bad signature is 401 and revokes nothing. Every live token reported is revoked.",
  security: [],
  responses: {
    200: { description: "One label per reported token", content: json(z.array(Label)) },
    ...errorResponses(400, 413, 415),
  },
});

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

interface Reported {
  token: string;
  type: string;
}

function parseReport(text: string): Reported[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_request", "Invalid request: the body is not JSON.");
  }
  if (!Array.isArray(body) || body.length > MAX_REPORTED) {
    throw new ApiError("invalid_request", `Invalid request: the body must be an array of at most ${MAX_REPORTED} reports.`);
  }
  return body.map((entry: unknown, i) => {
    const token = (entry as { token?: unknown })?.token;
    const type = (entry as { type?: unknown })?.type;
    if (typeof token !== "string" || token.length > 1_024) throw new ApiError("invalid_request", `Invalid request: ${i}.token must be a string.`);
    return { token, type: typeof type === "string" ? type : "" };
  });
}

export function registerSecretScanning(app: ManagementApp): void {
  app.openapi(route, async (c) => {
    const keyId = c.req.header("github-public-key-identifier");
    const signature = c.req.header("github-public-key-signature");
    if (!keyId || !signature) throw new ApiError("unauthorized", "A signed report from GitHub is required.");
    const raw = new Uint8Array(await c.req.arrayBuffer());
    let check;
    try {
      check = await verifyReportSignature(signalsConfig(c.env).secretScanningKeysUrl, keyId, signature, raw);
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw new ApiError("unavailable", "GitHub's signing keys could not be fetched; try again later.");
      throw err;
    }
    if (!check.ok) throw new ApiError("unauthorized", `The report's signature is not valid: ${check.reason}.`);

    const reports = parseReport(new TextDecoder().decode(raw));
    const config = c.get("config");
    const digestOf = new Map<string, string>();
    for (const { token } of reports) {
      const parsed = parseToken(token.trim());
      if (parsed.ok && !digestOf.has(token)) digestOf.set(token, await tokenDigest(parsed.token, config.tokenPepper));
    }
    const digests = [...new Set(digestOf.values())];
    const db = orm(c.env.DB);
    const now = Date.now();
    const live = await guard(() => liveDigests(db, digests, now), { timeoutMs: config.dbTimeoutMs, retry: true });
    if (live.size > 0) {
      const revoked = await guard(() => revokeLeakedTokens(db, [...live], now), { timeoutMs: config.dbTimeoutMs });
      if (revoked.length > 0) invalidateCached({ tokenIds: revoked });
    } else {
      nothingChanged(c);
    }
    const labels = await Promise.all(
      reports.map(async ({ token, type }) => {
        const digest = digestOf.get(token);
        return {
          token_hash: hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))),
          token_type: type,
          label: digest !== undefined && live.has(digest) ? ("true_positive" as const) : ("false_positive" as const),
        };
      }),
    );
    return c.json(labels, 200);
  });
}
