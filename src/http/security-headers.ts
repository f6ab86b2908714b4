import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { DELETE_PATH, PAGE_STYLE_SOURCE } from './account-delete.page';

/**
 * helmet on every response. The API answers JSON and image bytes, which need nothing from a
 * browser, so the policy allows nothing; only the GraphQL landing page (an HTML page that loads
 * Apollo Sandbox from Apollo's CDN, with the same lists as its own meta policy) and the account
 * deletion page get more.
 */
export function securityHeaders(): RequestHandler {
  const api = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const apolloCdn = [
    'https://apollo-server-landing-page.cdn.apollographql.com',
    'https://embeddable-sandbox.cdn.apollographql.com',
    'https://embeddable-explorer.cdn.apollographql.com',
  ];
  const landingPage = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // The page's inline scripts and styles carry a nonce that only its own meta policy knows.
        scriptSrc: ["'self'", "'unsafe-inline'", ...apolloCdn],
        styleSrc: ["'self'", "'unsafe-inline'", ...apolloCdn, 'https://fonts.googleapis.com'],
        fontSrc: ["'self'", 'https://fonts.gstatic.com'],
        imgSrc: ["'self'", 'data:', 'https://apollo-server-landing-page.cdn.apollographql.com'],
        manifestSrc: ['https://apollo-server-landing-page.cdn.apollographql.com'],
        frameSrc: ['https://sandbox.embed.apollographql.com', 'https://explorer.embed.apollographql.com'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
      },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  // The account deletion page: its own inline style (by hash) and forms posting to itself, nothing else.
  const deletePage = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: [PAGE_STYLE_SOURCE],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
  });
  return (req, res, next) => {
    if (req.path === DELETE_PATH) return deletePage(req, res, next);
    const wantsPage = req.method === 'GET' && req.path === '/graphql' && (req.headers.accept ?? '').includes('text/html');
    return (wantsPage ? landingPage : api)(req, res, next);
  };
}
