CREATE TABLE `activity_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`type` text NOT NULL,
	`actor_id` text,
	`actor_type` text NOT NULL,
	`actor_name` text NOT NULL,
	`target_type` text,
	`target_id` text,
	`target_name` text,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `activity_events_org_idx` ON `activity_events` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `activity_events_org_actor_idx` ON `activity_events` (`org_id`,`actor_id`,`id`);--> statement-breakpoint
CREATE INDEX `activity_events_org_type_idx` ON `activity_events` (`org_id`,`type`,`id`);--> statement-breakpoint
CREATE INDEX `activity_events_occurred_idx` ON `activity_events` (`occurred_at`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`kind` text NOT NULL,
	`user_id` text,
	`service_user_id` text,
	`name` text NOT NULL,
	`digest` text NOT NULL,
	`hint` text NOT NULL,
	`status` text NOT NULL,
	`inactivity_days` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_used_at` integer,
	`last_active_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`expired_at` integer,
	`deleted_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`service_user_id`) REFERENCES `service_users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_digest_uq` ON `api_tokens` (`digest`);--> statement-breakpoint
CREATE INDEX `api_tokens_user_idx` ON `api_tokens` (`user_id`,`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `api_tokens_org_kind_idx` ON `api_tokens` (`org_id`,`kind`,`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `api_tokens_service_user_idx` ON `api_tokens` (`service_user_id`);--> statement-breakpoint
CREATE INDEX `api_tokens_expiry_idx` ON `api_tokens` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `groups` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `groups_org_id_idx` ON `groups` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `permission_sets` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`permissions` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `permission_sets_org_id_idx` ON `permission_sets` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `service_user_permission_sets` (
	`service_user_id` text NOT NULL,
	`permission_set_id` text NOT NULL,
	PRIMARY KEY(`service_user_id`, `permission_set_id`),
	FOREIGN KEY (`service_user_id`) REFERENCES `service_users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`permission_set_id`) REFERENCES `permission_sets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `service_user_permission_sets_set_idx` ON `service_user_permission_sets` (`permission_set_id`);--> statement-breakpoint
CREATE TABLE `service_users` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `service_users_org_id_idx` ON `service_users` (`org_id`);--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `sites_org_id_idx` ON `sites` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `user_groups` (
	`user_id` text NOT NULL,
	`group_id` text NOT NULL,
	PRIMARY KEY(`user_id`, `group_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `user_groups_group_idx` ON `user_groups` (`group_id`);--> statement-breakpoint
CREATE TABLE `user_permission_sets` (
	`user_id` text NOT NULL,
	`permission_set_id` text NOT NULL,
	PRIMARY KEY(`user_id`, `permission_set_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`permission_set_id`) REFERENCES `permission_sets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `user_permission_sets_set_idx` ON `user_permission_sets` (`permission_set_id`);--> statement-breakpoint
CREATE TABLE `user_sites` (
	`user_id` text NOT NULL,
	`site_id` text NOT NULL,
	PRIMARY KEY(`user_id`, `site_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `user_sites_site_idx` ON `user_sites` (`site_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`email` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `users_org_id_idx` ON `users` (`org_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_org_email_live_uq` ON `users` (`org_id`,`email`) WHERE status <> 'removed';