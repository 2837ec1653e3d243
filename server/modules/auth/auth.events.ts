/**
 * Sessions that ended, announced after the commit that ended them, so every replica closes
 * the websockets still open on them (a socket resolved its viewer when it connected; without
 * this it would outlive a logout or a removal from Admins until its next re-check). Ids only,
 * never a token; small enough for NOTIFY (`announceEnded` splits long id lists).
 */
export interface SessionsEndedEvent {
  tenantId: string;
  /** Single sessions that ended (logout). */
  sessionIds: string[];
  /** Users every session of which ended (removed from Admins, disabled, deleted, password set). */
  userIds: string[];
}

/** The one topic id: every replica listens to all revocations and filters its own sockets. */
export const SESSIONS_ENDED_TOPIC_ID = 'all';

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `sessionsEnded:all`: sessions revoked in a committed transaction; replicas close their sockets on them. */
    sessionsEnded: SessionsEndedEvent;
  }
}
