ALTER TABLE `api_tokens` ADD `previous_digest` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `previous_expires_at` integer;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `allowed_cidrs` text;--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_previous_digest_uq` ON `api_tokens` (`previous_digest`) WHERE previous_digest IS NOT NULL;