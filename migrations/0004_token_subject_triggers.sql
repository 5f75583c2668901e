-- The subject columns of api_tokens (migration 0003) are a copy of what the proxy needs to know
-- about a token's subject: name, membership status, permissions, groups and sites. The view
-- token_subjects_live defines them from the normalized tables, with the joins the proxy used to
-- evaluate on every request; the triggers below are the copy's only writer. Every statement
-- that changes a source row recomputes the copies of the tokens it affects from the view, in
-- the same transaction, so a revocation, deactivation or permission change is visible to the
-- very next request exactly as before. Each trigger recomputes all five columns (no partial
-- updates to get wrong); writes to these tables are rare, reads are not.
-- test/perf/subject-columns.test.ts checks the copies against its own evaluation after random
-- sequences of directory changes.
CREATE VIEW `token_subjects_live` AS
SELECT t.id AS token_id,
  COALESCE(u.name, s.name) AS subject_name,
  u.status AS subject_status,
  (SELECT json_group_array(DISTINCT j.value) FROM permission_sets ps, json_each(ps.permissions) j
   WHERE ps.id IN (
     SELECT permission_set_id FROM user_permission_sets WHERE user_id = COALESCE(t.user_id, t.service_user_id)
     UNION ALL
     SELECT permission_set_id FROM service_user_permission_sets WHERE service_user_id = COALESCE(t.user_id, t.service_user_id))) AS subject_permissions,
  (SELECT json_group_array(group_id) FROM user_groups WHERE user_id = t.user_id) AS subject_groups,
  (SELECT json_group_array(site_id) FROM user_sites WHERE user_id = t.user_id) AS subject_sites
FROM api_tokens t
LEFT JOIN users u ON u.id = t.user_id
LEFT JOIN service_users s ON s.id = t.service_user_id;
--> statement-breakpoint
CREATE TRIGGER `api_tokens_subject_insert` AFTER INSERT ON `api_tokens` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `api_tokens_subject_update` AFTER UPDATE OF user_id, service_user_id ON `api_tokens` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `users_subject_insert` AFTER INSERT ON `users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `users_subject_update` AFTER UPDATE ON `users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.id OR user_id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `users_subject_delete` AFTER DELETE ON `users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_users_subject_insert` AFTER INSERT ON `service_users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_users_subject_update` AFTER UPDATE ON `service_users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = OLD.id OR service_user_id = NEW.id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_users_subject_delete` AFTER DELETE ON `service_users` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = OLD.id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_permission_sets_subject_insert` AFTER INSERT ON `user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_permission_sets_subject_update` AFTER UPDATE ON `user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id OR user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_permission_sets_subject_delete` AFTER DELETE ON `user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_user_permission_sets_subject_insert` AFTER INSERT ON `service_user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = NEW.service_user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_user_permission_sets_subject_update` AFTER UPDATE ON `service_user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = OLD.service_user_id OR service_user_id = NEW.service_user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `service_user_permission_sets_subject_delete` AFTER DELETE ON `service_user_permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE service_user_id = OLD.service_user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_groups_subject_insert` AFTER INSERT ON `user_groups` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_groups_subject_update` AFTER UPDATE ON `user_groups` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id OR user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_groups_subject_delete` AFTER DELETE ON `user_groups` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_sites_subject_insert` AFTER INSERT ON `user_sites` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_sites_subject_update` AFTER UPDATE ON `user_sites` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id OR user_id = NEW.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `user_sites_subject_delete` AFTER DELETE ON `user_sites` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id = OLD.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `permission_sets_subject_update` AFTER UPDATE ON `permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id IN (SELECT user_id FROM user_permission_sets WHERE permission_set_id IN (OLD.id, NEW.id))
    OR service_user_id IN (SELECT service_user_id FROM service_user_permission_sets WHERE permission_set_id IN (OLD.id, NEW.id));
END;
--> statement-breakpoint
CREATE TRIGGER `permission_sets_subject_delete` AFTER DELETE ON `permission_sets` FOR EACH ROW BEGIN
  UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id)
  WHERE user_id IN (SELECT user_id FROM user_permission_sets WHERE permission_set_id IN (OLD.id))
    OR service_user_id IN (SELECT service_user_id FROM service_user_permission_sets WHERE permission_set_id IN (OLD.id));
END;
--> statement-breakpoint
-- Tokens that existed before this migration.
UPDATE api_tokens SET (subject_name, subject_status, subject_permissions, subject_groups, subject_sites) =
    (SELECT subject_name, subject_status, subject_permissions, subject_groups, subject_sites FROM token_subjects_live WHERE token_id = api_tokens.id);
