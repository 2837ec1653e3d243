import { createRequire } from 'node:module';
import { PASSWORD_RULES } from '../../shared/password-policy.js';

/**
 * Views are preact components written with `htm` tagged templates and rendered to a string on
 * the server: every interpolated value is a text node or an attribute value, escaped by
 * construction; no HTML is built by concatenating user input.
 */
export interface VNode {
  readonly type: unknown;
  readonly props: unknown;
}
export type ComponentChildren = VNode | string | number | null | undefined | ComponentChildren[];

// Loaded without their type declarations: preact's reference the DOM library, which would
// retype `fetch`, `Response` … across the whole Node program. The surface used is three calls.
const require = createRequire(import.meta.url);
const { h } = require('preact') as { h: (type: unknown, props: unknown, ...children: unknown[]) => VNode };
const htm = require('htm') as { bind(hyperscript: typeof h): (strings: TemplateStringsArray, ...values: unknown[]) => VNode };
const { render } = require('preact-render-to-string') as { render(vnode: VNode): string };

export const html = htm.bind(h);

export const ASSETS = '/portal/_assets';

/** What every page shows: whose portal this is (MFA enrolment pages belong to a tenant, not to one IdP). */
export interface PortalHeader {
  idpName: string | null;
  idpDescription: string | null;
  tenantName: string;
}

/** `scripts`: further scripts of the portal's own assets (e.g. `webauthn.js`), after the common one. */
export function documentOf(title: string, header: PortalHeader | null, body: ComponentChildren, scripts: string[] = []): string {
  const page = html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>${title}${header ? ` · ${header.tenantName}` : ''}</title>
      <link rel="stylesheet" href=${`${ASSETS}/portal.css`} />
      <script src=${`${ASSETS}/portal.js`} defer></script>
      ${scripts.map((s) => html`<script src=${`${ASSETS}/${s}`} defer></script>`)}
    </head>
    <body>
      <header class="portal-header">
        ${
          header
            ? html`<p class="tenant">${header.tenantName}</p>
                ${
                  header.idpName
                    ? html`<p class="idp">${header.idpDescription || header.idpName} <span class="idp-name">(${header.idpName})</span></p>`
                    : html`<p class="idp">Two-step verification</p>`
                }`
            : html`<p class="tenant">Roster</p>`
        }
      </header>
      <main id="main">
        <h1>${title}</h1>
        ${body}
      </main>
    </body>
  </html>`;
  return `<!doctype html>\n${render(page)}`;
}

/** Errors shown at the top of a form (role=alert, so screen readers announce them). */
export function errorSummary(messages: string[]): VNode | null {
  if (!messages.length) return null;
  return html`<div class="error-summary" role="alert" id="form-errors">
    <ul>
      ${messages.map((m) => html`<li>${m}</li>`)}
    </ul>
  </div>`;
}

/** A labelled input whose error text is tied to it with aria-describedby. */
export function field(opts: {
  id: string;
  name: string;
  label: string;
  type?: string;
  autocomplete?: string;
  value?: string;
  error?: string | null;
  describedBy?: string[];
  autofocus?: boolean;
  policyInput?: boolean;
  required?: boolean;
}): VNode {
  const errorId = `${opts.id}-error`;
  const describedBy = [...(opts.describedBy ?? []), ...(opts.error ? [errorId] : [])];
  return html`<div class="field">
    <label for=${opts.id}>${opts.label}</label>
    <input
      id=${opts.id}
      name=${opts.name}
      type=${opts.type ?? 'text'}
      autocomplete=${opts.autocomplete}
      value=${opts.value}
      required=${opts.required ?? true}
      autofocus=${opts.autofocus}
      aria-invalid=${opts.error ? 'true' : undefined}
      aria-describedby=${describedBy.length ? describedBy.join(' ') : undefined}
      data-policy-input=${opts.policyInput ? '' : undefined}
    />
    ${opts.error ? html`<p class="field-error" id=${errorId}>${opts.error}</p>` : null}
  </div>`;
}

/**
 * The password policy as a checklist. Without JavaScript it lists the rules (and, after a
 * refused attempt, which ones failed); the script re-evaluates the same rule descriptors,
 * served here from the server's policy module, as the user types.
 */
export function policyChecklist(opts: { failed?: string[] | null; identities: (string | null | undefined)[] }): VNode {
  const failed = opts.failed ? new Set(opts.failed) : null;
  const rules = PASSWORD_RULES.map((r) => ({ code: r.code, test: r.test }));
  return html`<div class="policy">
    <p id="policy-title">Your password must:</p>
    <ul
      id="password-rules"
      aria-labelledby="policy-title"
      data-policy=${JSON.stringify(rules)}
      data-identities=${JSON.stringify(opts.identities.filter(Boolean))}
    >
      ${PASSWORD_RULES.map((r) => {
        const state = failed ? (failed.has(r.code) ? 'fail' : 'ok') : 'unknown';
        return html`<li class=${`rule ${state}`} data-code=${r.code}>
          <span class="rule-state">${state === 'fail' ? 'Not met: ' : state === 'ok' ? 'Met: ' : ''}</span>${r.message}
        </li>`;
      })}
    </ul>
    <p class="visually-hidden" id="password-rules-live" aria-live="polite"></p>
  </div>`;
}

export function csrfInput(token: string): VNode {
  return html`<input type="hidden" name="_csrf" value=${token} />`;
}
