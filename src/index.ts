/**
 * The package's public API, for backends written in TypeScript (docs/contract.md §1, §3): enqueue an asset,
 * wait for its result, the zod schemas and types of job and result, and the webhook signature check.
 * Backends in other languages use the JSON Schema files and docs/webhook.md instead.
 *
 * Only light modules are exported from here: importing the package never loads an extractor, sharp or
 * pdf.js, and never connects anywhere.
 */
export { defaultJobOptions, enqueueAsset, jobIdFor, waitForResult } from './queue/client.js';
export type { Enqueued } from './queue/client.js';
export { JOB_NAME } from './queue/worker.js';
export * from './contract.js';
export { SIGNATURE_HEADER, verifyWebhookSignature } from './sinks/webhook-signature.js';
