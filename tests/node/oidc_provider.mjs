// A real OpenID provider (npm oidc-provider, a certified implementation) for the OAuth tests.
// Usage: node oidc_provider.mjs PORT KEYS_JSON_FILE
// Opaque tokens (resource `urn:...:opaque`) can be introspected (RFC 7662) by the client `bridge`.
// It signs with the private JWK in KEYS_JSON_FILE (so the tests can also sign broken tokens with the
// issuer's own key), issues JWT access tokens by client_credentials whose `aud` is the requested
// resource (RFC 8707), and prints "ready <issuer>" once it listens.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, keysFile] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const keys = JSON.parse(readFileSync(keysFile, 'utf8'));
const scope = 'agent:support agent:hr agent:*';
const provider = new Provider(issuer, {
  jwks: keys,
  clients: [
    { client_id: 'machine', client_secret: 'machine-secret', grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], scope },
    // The bridge's own credentials for RFC 7662 introspection of opaque tokens.
    { client_id: 'bridge', client_secret: 'bridge-secret', grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [] },
  ],
  scopes: ['openid', 'offline_access', 'agent:support', 'agent:hr', 'agent:*'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        // `urn:...:opaque` resources get opaque tokens (checked by introspection), others JWTs.
        scope, audience: resource, accessTokenFormat: resource.endsWith(':opaque') ? 'opaque' : 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
