// A real OpenID provider for the single sign-on tests (tests/api/oidc.rs): the `oidc-provider`
// package on a loopback port of the system's choosing. It prints its issuer URL on standard
// output, then serves until its standard input closes.
//
// Usage: node provider.mjs PACKAGE_DIR [HOST]
//   PACKAGE_DIR: the directory whose node_modules holds oidc-provider; HOST: the issuer's host
//   name (127.0.0.1; `localhost` puts the provider on another site than the dashboard for a
//   browser, whose cookie rules tell sites apart by host, not port).
//
// One confidential client, `tidegate` with the secret `tidegate-test-secret`, may be sent back
// to any http://127.0.0.1 port at /login/oidc/callback. There is no login page: the person the
// test chose with the control endpoint is signed in and consents at once. Control endpoints,
// for tests only:
//   POST /__test/person  {"sub", "email", "email_verified"}  who signs in next
//   POST /__test/tamper  {"mode"}  the next token response's ID token becomes: "signature"
//        (signed with an unrelated key), "audience" (for another client), "expired",
//        "nonce" (another nonce), "strip-email" (no e-mail: the client must ask the userinfo
//        endpoint), all re-signed with the provider's own key but the first;
//   GET /__test/userinfo-calls  how many requests the userinfo endpoint has had
//        "garbage" answers the token request with a body that is no JSON.

import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const packageDir = process.argv[2];
if (!packageDir) {
  console.error('usage: node provider.mjs PACKAGE_DIR [HOST]');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(packageDir), 'index.js'));
const { default: Provider } = await import(require.resolve('oidc-provider'));
const jose = await import(require.resolve('jose'));

const CLIENT_ID = 'tidegate';
const CLIENT_SECRET = 'tidegate-test-secret';
const CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/login\/oidc\/callback$/;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
const { privateKey: strangerKey } = await jose.generateKeyPair('RS256', { extractable: true });

// Everyone the test has named, by `sub`; `person` signs in next.
let person = { sub: 'ada', email: 'ada@example.com', email_verified: true };
const people = new Map([[person.sub, person]]);
let tamper = null;
let userinfoCalls = 0;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://${process.argv[3] || '127.0.0.1'}:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: ['http://127.0.0.1/login/oidc/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['tidegate-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The claims of the scopes asked for are in the ID token, as most providers do.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const who = people.get(sub);
    if (!who) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: who.email, email_verified: who.email_verified, name: sub };
      },
    };
  },
  // Consent is given once asked: the grant the client wants, already there.
  async loadExistingGrant(ctx) {
    const accountId = ctx.oidc.session.accountId;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.Client.prototype.redirectUriAllowed = (uri) => CALLBACK.test(uri);

// The token endpoint's ID token, rewritten as the test asked.
provider.use(async (ctx, next) => {
  if (ctx.path === '/me') userinfoCalls += 1;
  await next();
  if (ctx.path !== '/token' || !tamper || ctx.status !== 200) return;
  const mode = tamper;
  tamper = null;
  if (mode === 'garbage') {
    ctx.type = 'application/json';
    ctx.body = '{"access_token": oops';
    return;
  }
  const body = typeof ctx.body === 'string' ? JSON.parse(ctx.body) : { ...ctx.body };
  const claims = jose.decodeJwt(body.id_token);
  let key = privateKey;
  if (mode === 'signature') key = strangerKey;
  if (mode === 'audience') claims.aud = 'someone-else';
  if (mode === 'expired') {
    claims.iat = Math.floor(Date.now() / 1000) - 7200;
    claims.exp = claims.iat + 60;
  }
  if (mode === 'nonce') claims.nonce = 'not-the-nonce-sent';
  if (mode === 'strip-email') {
    delete claims.email;
    delete claims.email_verified;
  }
  body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
    .sign(key);
  ctx.body = body;
});

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/__test/person') {
      person = await readJson(req);
      people.set(person.sub, person);
      res.writeHead(204).end();
    } else if (req.method === 'POST' && req.url === '/__test/tamper') {
      tamper = (await readJson(req)).mode;
      res.writeHead(204).end();
    } else if (req.method === 'GET' && req.url === '/__test/userinfo-calls') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(String(userinfoCalls));
    } else if (req.url.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const result = details.prompt.name === 'login'
        ? { login: { accountId: person.sub } }
        : { consent: {} };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    } else {
      callback(req, res);
    }
  } catch (error) {
    console.error(error);
    if (!res.headersSent) res.writeHead(500).end(String(error));
  }
});

process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
console.log(issuer);
// Ends with the test: its end of the pipe closes.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
