/**
 * The signed-in administrator an operation runs for. Every tenant-scoped query takes
 * `tenantId` from here, never from client input. It lives on the ground floor so services
 * can name it without importing the GraphQL context (which sits above them).
 */
export interface Viewer {
  tenantId: string;
  userId: string;
  sessionId: string;
}
