// Every table of the service, by domain. drizzle-kit reads this file to generate migrations.
export * from './tenant.js';
export * from './directory.js';
export * from './user.js';
export * from './session.js';
export * from './job.js';
export * from './mail.js';
export * from './invitation.js';
export * from './mfa.js';
export * from './bulk.js';
export * from './sign-in-limit.js';
export * from './api-token.js';
export * from './audit.js';
export * from './scim.js';
