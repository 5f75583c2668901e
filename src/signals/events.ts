/**
 * The webhook event types of SPEC §10 and which activity events (SPEC §4) make them. The
 * activity log is the outbox: every change already records its event in its own D1 batch, and
 * the trigger of migration `webhook_outbox_trigger` queues exactly the activity types below.
 */
export const WEBHOOK_EVENT_TYPES = [
  "token.created",
  "token.revoked",
  "token.regenerated",
  "token.rolled",
  "token.deleted",
  "token.expired",
  "token.expiring",
  "token.leaked",
  "member.deactivated",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Activity type → webhook type. Keep in step with the trigger's list. */
export const WEBHOOK_TYPE_OF_ACTIVITY: Readonly<Record<string, WebhookEventType>> = {
  "token.created": "token.created",
  "token.revoked": "token.revoked",
  "token.regenerated": "token.regenerated",
  "token.rolled": "token.rolled",
  "token.deleted": "token.deleted",
  "token.expired": "token.expired",
  "token.expiring": "token.expiring",
  "token.revoked_leaked": "token.leaked",
  // Removing a member ends their tokens exactly as deactivating does (SPEC §1).
  "user.deactivated": "member.deactivated",
  "user.removed": "member.deactivated",
};

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/** `data` of a delivery (SPEC §10): identifiers and display fields only, never a secret. */
export interface WebhookData {
  org_id: string;
  token_id: string | null;
  token_kind: "user" | "service_user" | null;
  name: string | null;
  hint: string | null;
  expires_at?: string | null;
  member_id?: string;
}

export interface WebhookPayload {
  type: WebhookEventType;
  timestamp: string;
  data: WebhookData;
}
