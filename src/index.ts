/**
 * The package's API for TypeScript backends (docs/contract.md §1, §3): enqueue, wait for a result, the job
 * and result schemas, the webhook signature check. Light modules only: importing it loads no extractor.
 */
export { defaultJobOptions, enqueueAsset, jobIdFor, waitForResult } from './queue/client.js';
export type { Enqueued } from './queue/client.js';
export { JOB_NAME } from './queue/worker.js';
export * from './contract.js';
export { SIGNATURE_HEADER, verifyWebhookSignature } from './sinks/webhook-signature.js';
