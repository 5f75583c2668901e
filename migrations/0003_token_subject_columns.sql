ALTER TABLE `api_tokens` ADD `subject_name` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `subject_status` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `subject_permissions` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `subject_groups` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `subject_sites` text;