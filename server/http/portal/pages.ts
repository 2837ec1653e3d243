import { csrfInput, documentOf, errorSummary, field, html, policyChecklist, type PortalHeader, type VNode } from './layout.js';

export type LinkAction = 'activate' | 'reset-password';

/** Where the portal's own pages are; `tenant` is carried when the IdP's name alone is ambiguous. */
export function portalPath(idpName: string, page: string, tenantSlug?: string | null): string {
  const base = `/portal/${encodeURIComponent(idpName)}/${page}`;
  return tenantSlug ? `${base}?tenant=${encodeURIComponent(tenantSlug)}` : base;
}

export function messagePage(title: string, header: PortalHeader | null, lines: string[], action?: { href: string; label: string }): string {
  return documentOf(
    title,
    header,
    html`${lines.map((l) => html`<p>${l}</p>`)} ${action ? html`<p><a class="button" href=${action.href}>${action.label}</a></p>` : null}`,
  );
}

export function signInPage(opts: {
  header: PortalHeader | null;
  idpName: string;
  csrf: string;
  /** Shown when the IdP's name is used by several tenants and none was given. */
  askTenant: boolean;
  tenantSlug: string | null;
  login?: string;
  error?: string | null;
  notice?: string | null;
}): string {
  const action = portalPath(opts.idpName, 'sign-in', opts.askTenant ? null : opts.tenantSlug);
  return documentOf(
    'Sign in',
    opts.header,
    html`${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : null} ${errorSummary(opts.error ? [opts.error] : [])}
      <form method="post" action=${action} novalidate>
        ${csrfInput(opts.csrf)}
        ${
          opts.askTenant
            ? field({
                id: 'tenant',
                name: 'tenant',
                label: 'Organisation (account id)',
                autocomplete: 'organization',
                value: opts.tenantSlug ?? '',
              })
            : null
        }
        ${field({
          id: 'login',
          name: 'login',
          label: 'Email or username',
          autocomplete: 'username',
          value: opts.login ?? '',
          autofocus: true,
          describedBy: opts.error ? ['form-errors'] : [],
        })}
        ${field({ id: 'password', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' })}
        <button type="submit">Sign in</button>
      </form>`,
  );
}

export interface LinkFormView {
  header: PortalHeader;
  action: LinkAction;
  idpName: string;
  csrf: string;
  email: string | null;
  username: string | null;
  identities: (string | null)[];
  errors?: string[];
  failedRules?: string[] | null;
  confirmError?: string | null;
}

/** Activate (invitation) and reset-password (reset link): who the link is for, and the new password twice. */
export function linkFormPage(v: LinkFormView): string {
  const activate = v.action === 'activate';
  return documentOf(
    activate ? 'Activate your account' : 'Choose a new password',
    v.header,
    html`<dl class="who">
        <dt>Email</dt>
        <dd>${v.email ?? '—'}</dd>
        <dt>Login id</dt>
        <dd>${v.username ?? v.email ?? '—'}</dd>
      </dl>
      ${errorSummary(v.errors ?? [])}
      <form method="post" action=${portalPath(v.idpName, v.action)} novalidate>
        ${csrfInput(v.csrf)}
        <input type="hidden" name="username" value=${v.username ?? v.email ?? ''} autocomplete="username" />
        ${newPasswordFields(v, true)}
        <button type="submit">${activate ? 'Activate account' : 'Set new password'}</button>
      </form>`,
  );
}

export interface AccountView {
  header: PortalHeader;
  idpName: string;
  tenantSlug: string | null;
  csrf: string;
  profile: {
    firstName: string;
    lastName: string;
    email: string | null;
    username: string | null;
    groups: string[];
    lastSignInAt: Date | null;
  };
  identities: (string | null)[];
  /** The user's MFA devices (`devicesSection`), rendered by the caller. */
  devices?: VNode | null;
  notice?: string | null;
  errors?: string[];
  currentError?: string | null;
  confirmError?: string | null;
  failedRules?: string[] | null;
}

export function accountPage(v: AccountView): string {
  const p = v.profile;
  const groups: VNode = p.groups.length
    ? html`<ul class="groups">
        ${p.groups.map((g) => html`<li>${g}</li>`)}
      </ul>`
    : html`<span>none</span>`;
  return documentOf(
    'Your account',
    v.header,
    html`${v.notice ? html`<p class="notice" role="status">${v.notice}</p>` : null}
      <section aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <dl class="who">
          <dt>Name</dt>
          <dd>${`${p.firstName} ${p.lastName}`.trim() || '—'}</dd>
          <dt>Email</dt>
          <dd>${p.email ?? '—'}</dd>
          <dt>Login id</dt>
          <dd>${p.username ?? p.email ?? '—'}</dd>
          <dt>Groups</dt>
          <dd>${groups}</dd>
          <dt>Last sign-in</dt>
          <dd>${p.lastSignInAt ? p.lastSignInAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—'}</dd>
        </dl>
      </section>
      ${v.devices ?? null}
      <section aria-labelledby="password-title">
        <h2 id="password-title">Change password</h2>
        ${errorSummary(v.errors ?? [])}
        <form method="post" action=${portalPath(v.idpName, 'account/password', v.tenantSlug)} novalidate>
          ${csrfInput(v.csrf)}
          <input type="hidden" name="username" value=${p.username ?? p.email ?? ''} autocomplete="username" />
          ${field({
            id: 'current-password',
            name: 'currentPassword',
            label: 'Current password',
            type: 'password',
            autocomplete: 'current-password',
            error: v.currentError ?? null,
          })}
          ${newPasswordFields(v, false)}
          <button type="submit">Change password</button>
        </form>
      </section>
      <section aria-labelledby="session-title">
        <h2 id="session-title">Session</h2>
        <form method="post" action=${portalPath(v.idpName, 'sign-out', v.tenantSlug)}>
          ${csrfInput(v.csrf)}
          <button type="submit" class="secondary">Sign out</button>
        </form>
      </section>`,
  );
}

/** The new password, its live policy checklist and its confirmation: the same on every page that sets one. */
function newPasswordFields(
  v: {
    failedRules?: readonly unknown[] | null;
    identities: Parameters<typeof policyChecklist>[0]['identities'];
    confirmError?: string | null;
  },
  autofocus: boolean,
) {
  return html`
    ${field({
      id: 'password',
      name: 'password',
      label: 'New password',
      type: 'password',
      autocomplete: 'new-password',
      autofocus,
      policyInput: true,
      describedBy: ['password-rules'],
      error: v.failedRules?.length ? 'The password does not meet every rule below.' : null,
    })}
    ${policyChecklist({ failed: (v.failedRules ?? null) as Parameters<typeof policyChecklist>[0]['failed'], identities: v.identities })}
    ${field({
      id: 'confirm',
      name: 'confirm',
      label: 'New password again',
      type: 'password',
      autocomplete: 'new-password',
      error: v.confirmError ?? null,
    })}
  `;
}
