-- The webhook outbox (SPEC §10): a webhook-worthy activity event of an organization that has
-- at least one endpoint is queued for dispatch by the statement that records it, inside the
-- same transaction as the change. A rolled-back change never wrote its event, so it never
-- reaches the outbox and never sends a webhook. Types outside the list (token.first_used on
-- the proxy's last-use write, directory edits) cost one comparison.
CREATE TRIGGER `activity_events_webhook_outbox` AFTER INSERT ON `activity_events`
WHEN NEW.type IN ('token.created', 'token.revoked', 'token.regenerated', 'token.rolled', 'token.deleted',
  'token.expired', 'token.expiring', 'token.revoked_leaked', 'user.deactivated', 'user.removed')
  AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE org_id = NEW.org_id)
BEGIN
  INSERT OR IGNORE INTO webhook_outbox (event_id, org_id, created_at) VALUES (NEW.id, NEW.org_id, NEW.occurred_at);
END;
