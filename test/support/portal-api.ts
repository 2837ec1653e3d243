import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RosterClient } from '../../client/src/index.js';
import type { TestServer } from './harness.js';

/** The server's origin (http://127.0.0.1:<port>). */
export function originOf(ts: TestServer): string {
  return new URL(ts.url).origin;
}

/**
 * The newest emailed portal link to `email` from the server's local mailbox (DATA_DIR/mailbox),
 * waiting for the outbox worker to write it. `after` skips links already seen; `kind` picks
 * invitation/reset links (`inv`, the default) or MFA enrolment links (`mfa`).
 */
export async function mailedLink(
  ts: TestServer,
  email: string,
  opts: { after?: string[]; timeoutMs?: number; kind?: 'inv' | 'mfa' } = {},
): Promise<string> {
  const dir = path.join(ts.server.env.DATA_DIR, 'mailbox');
  const end = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (existsSync(dir)) {
      const files = readdirSync(dir).sort().reverse();
      for (const f of files) {
        // Quoted-printable soft line breaks and =3D are undone before looking for the link.
        const text = readFileSync(path.join(dir, f), 'utf8')
          .replace(/=\r?\n/g, '')
          .replace(/=3D/g, '=');
        if (!new RegExp(`^To: .*${email.replace(/[.+]/g, '\\$&')}`, 'mi').test(text)) continue;
        const link = new RegExp(`https?://\\S+?/portal/[^\\s"<>]+?\\?token=${opts.kind ?? 'inv'}_[A-Za-z0-9_-]{43}`).exec(text)?.[0];
        if (link && !(opts.after ?? []).includes(link)) return link;
      }
    }
    if (Date.now() > end) throw new Error(`no mailed link to ${email}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates a Cloud Directory user (optionally in groups) and invites them; returns the user id and the emailed link. */
export async function inviteEndUser(
  ts: TestServer,
  admin: RosterClient,
  input: { email: string; firstName?: string; lastName?: string; groupIds?: string[]; identityProviderId?: string },
): Promise<{ userId: string; link: string }> {
  const { createUser } = await admin.createUser({
    input: {
      email: input.email,
      firstName: input.firstName ?? 'Ana',
      lastName: input.lastName ?? 'Lopez',
      groupIds: input.groupIds,
      identityProviderId: input.identityProviderId,
      sendInvite: true,
    },
  });
  if (!createUser.user) throw new Error(`createUser failed: ${JSON.stringify(createUser.errors)}`);
  return { userId: createUser.user.id, link: await mailedLink(ts, input.email) };
}

/** A Cloud Directory user invited and activated through the portal's forms (no JavaScript), with `password`. */
export async function activatedEndUser(
  ts: TestServer,
  admin: RosterClient,
  input: { email: string; password: string; firstName?: string },
): Promise<{ userId: string }> {
  const { userId, link } = await inviteEndUser(ts, admin, { email: input.email, firstName: input.firstName });
  const agent = new PortalAgent(originOf(ts));
  const form = await agent.page(link);
  const done = await agent.post(new URL(form.url).pathname, { _csrf: form.csrf!, password: input.password, confirm: input.password });
  if (done.status !== 200) throw new Error(`activation failed: ${done.status}`);
  return { userId };
}

/**
 * A minimal browser stand-in for HTTP-level tests: keeps cookies (by name; paths ignored),
 * follows no redirects by itself, and posts urlencoded forms.
 */
export class PortalAgent {
  readonly cookies = new Map<string, string>();
  constructor(readonly origin: string) {}

  private remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, decodeURIComponent(value));
    }
  }

  private header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
  }

  async get(pathOrUrl: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(new URL(pathOrUrl, this.origin), { redirect: 'manual', headers: { cookie: this.header(), ...headers } });
    this.remember(res);
    return res;
  }

  async post(pathOrUrl: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(new URL(pathOrUrl, this.origin), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.header(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    this.remember(res);
    return res;
  }

  /** GET, following same-origin redirects, and the page's CSRF field. */
  async page(pathOrUrl: string): Promise<{ res: Response; html: string; csrf: string | null; url: string }> {
    let url = new URL(pathOrUrl, this.origin).toString();
    let res = await this.get(url);
    for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i++) {
      url = new URL(res.headers.get('location')!, url).toString();
      res = await this.get(url);
    }
    const html = await res.text();
    return { res, html, csrf: /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? null, url };
  }
}
