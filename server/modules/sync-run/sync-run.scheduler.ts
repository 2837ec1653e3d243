import { isConnectionError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { ProvisioningStore } from '../provisioning/provisioning.store.js';
import { publishRun } from './sync-run.events.js';
import type { SyncRunJob } from './sync-run.job.js';
import type { SyncRunService } from './sync-run.service.js';
import type { SyncRunStore } from './sync-run.store.js';
import { SyncTrigger } from './sync-run.types.js';

/**
 * The sync schedule. Every replica ticks; `ProvisioningStore.claimDue` moves each due
 * provisioning's next sync forward in one UPDATE, so exactly one replica starts its run. The
 * tick also fails runs orphaned by a dead job and clears staging rows of ended runs.
 */
export class SyncRunScheduler {
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(
    private readonly d: {
      provisionings: ProvisioningStore;
      runs: SyncRunStore;
      service: SyncRunService;
      job: SyncRunJob;
      pubsub: PubSub;
      log: Logger;
    },
  ) {}

  start(tickMs: number): void {
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass: due syncs, runs orphaned by a dead job, staging rows of ended runs. */
  async tick(): Promise<void> {
    if (this.ticking) return; // a slow pass (a busy PGlite) must not overlap the next one
    this.ticking = true;
    const { log } = this.d;
    try {
      for (const p of await this.d.provisionings.claimDue()) {
        try {
          await this.d.service.start(p.tenantId, p.id, SyncTrigger.SCHEDULED, null);
        } catch (err) {
          // e.g. the tenant lost an entitlement: this interval is skipped, the next one retries.
          log.warn({ err, provisioningId: p.id }, 'scheduled sync not started');
        }
      }
      for (const r of await this.d.runs.failOrphaned()) {
        log.warn({ runId: r.id }, 'sync run failed: its job ended without it');
        await publishRun(this.d.pubsub, r);
      }
      for (const id of await this.d.runs.uncleared(3)) await this.d.job.clearStaging(id, 1);
    } catch (err) {
      // A dropped database connection is retried by the next tick; anything else is a bug.
      if (isConnectionError(err)) log.warn({ err }, 'sync scheduler tick skipped: database connection lost');
      else log.error({ err }, 'sync scheduler tick failed');
    } finally {
      this.ticking = false;
    }
  }
}
