// Package apiauthtest is an in-process fake of the four API families apiauth
// serves (Artos, Artanis, Voltasis, AudiModal), in the spirit of
// [net/http/httptest]: one loopback server speaking each provider's
// documented endpoints, headers, token formats, error bodies and statuses,
// with knobs for token lifetimes, rate limits, clock skew, latency and
// faults, and counters to assert on.
//
// # Quick start
//
// A test gets a working fake in a few lines:
//
//	func TestDocuments(t *testing.T) {
//		srv := apiauthtest.NewServer(t) // TLS; closed by t.Cleanup
//		client := srv.Client()          // trusts the server's certificate
//		base := srv.URL(apiauthtest.Artos)
//		// POST base+"/get-access-token" {"user_id": apiauthtest.ArtosUserID} ...
//	}
//
// [Start] takes a [Config] (zero fields mean defaults) for anything else:
// plain HTTP, a clock, lifetimes, rate limits.
//
// # Routing
//
// The families share one server, each under its own path prefix, so that
// clients prove they join base URLs with a path correctly. [Server.URL]
// returns the base URL with the prefix, and provider paths are appended as
// documented:
//
//	srv.URL(Artos)     + "/get-access-token"          POST {"user_id"} -> {"access_token": JWT}
//	srv.URL(Artos)     + "/api/v1/search/status"      GET, public
//	srv.URL(Artos)     + "/api/v1/documents/"         GET, Bearer JWT, org-scoped list
//	srv.URL(Artos)     + "/api/v1/templates/"         GET, Bearer JWT, org-scoped list
//	srv.URL(Artanis)   + "/api/prompts?projectSlug="  GET, x-api-key + x-org-slug
//	srv.URL(Voltasis)  + "/v1/auth/me"                GET, Bearer key
//	srv.URL(Voltasis)  + "/v1/users"                  GET, Bearer key with read:users
//	srv.URL(Voltasis)  + "/api/v1/api-keys"           POST create, GET list
//	srv.URL(Voltasis)  + "/api/v1/api-keys/{id}"      DELETE revoke
//	srv.URL(AudiModal) + "/v1/auth/login"             POST {"email","password","tenant_id"}
//	srv.URL(AudiModal) + "/v1/auth/refresh"           POST {"refresh_token"}
//	srv.URL(AudiModal) + "/v1/health"                 GET, echoes the tenant
//	srv.URL(AudiModal) + "/v1/files"                  GET, tenant-scoped list
//	srv.URL(AudiModal) + "/v1/tenants"                GET, admin only
//	srv.URL(AudiModal) + "/v1/auth/ip-allowlist"      POST, admin only
//
// Unknown paths and methods get 404 and 405 in the family's error shape.
// Artos redirects /api/v1/documents and /api/v1/templates (no trailing
// slash) with 307 to the slashed URL, as FastAPI does.
//
// # Wire behaviour
//
// Tokens are HS256 JWTs signed with [Server.SigningKey], carrying iss (the
// family), typ ("access" or "refresh"), iat, exp and jti; Artos tokens add
// sub, user_id and org_id, AudiModal tokens sub, email, role and tenant_id.
// Lifetimes are whole seconds. A token is expired once the server's clock
// reaches its exp.
//
// Artos answers {"detail":"Not authenticated"} (401) without a Bearer
// header, {"detail":"Invalid authentication credentials"} (401) for a bad or
// expired token and for an unknown user_id at /get-access-token, and
// {"detail":"User has no organization or not authorized"} (403) for a user
// without organization. The token answer has no expires_in.
//
// Artanis answers bare statuses with a plain-text body: 401 for a missing or
// unknown x-api-key; 403 when x-org-slug is missing or not one of the key's
// organizations, or when the project belongs to another organization; 404
// for an unknown project; 400 without projectSlug.
//
// Voltasis answers {"error":{"code":"UNAUTHORIZED",...}} (401) for a
// missing, unknown, revoked or expired key, and {"error":{"code":"FORBIDDEN",...}}
// (403) for a missing scope or an X-Organization-ID naming another
// organization without [VoltasisOverrideScope] (or an organization the fake
// does not know). A new key's scopes must be a subset of the creating key's.
// Rate limits count per key, or per client IP without a valid key; over the
// limit the answer is 429 {"error":{"code":"RATE_LIMIT_EXCEEDED",...}} with
// a Retry-After header in seconds (the provider documents no limit headers,
// so none are sent).
//
// AudiModal sends X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (Unix seconds, the end of the window) on every answer of
// its own (not on injected faults), and 429
// {"error":{"code":"RATE_LIMIT_EXCEEDED","retry_after":N,...}} over the
// limit, with no Retry-After header. Limits count per API key, per user
// for JWTs, and per client IP for logins, refreshes and requests without a
// valid credential. A missing or unknown credential gets 401
// INVALID_API_KEY, an expired access token 401 TOKEN_EXPIRED with
// expires_at, X-Tenant-ID for another tenant from a non-admin 403
// INSUFFICIENT_PERMISSIONS with "required_role":"admin". The provider
// documents no codes for login and refresh failures; the fake uses:
// 401 UNAUTHORIZED for a bad email, password or tenant and for an unknown,
// malformed or already used refresh token; 401 TOKEN_EXPIRED (with
// expires_at) for an expired refresh token; 400 INVALID_REQUEST for a body
// without the required fields or an invalid IP allowlist entry. Refresh
// tokens are single use: each refresh answers a new one, and presenting a
// used one again is refused and counted in [FamilyStats].RefreshRejections.
//
// # Seeded credentials
//
// The constants ArtosUserID, ArtanisAPIKey, VoltasisAPIKey, VoltasisAdminKey,
// AudiModalLiveKey, AudiModalEmail and their neighbours name credentials
// every server starts with; the Add* methods add more.
//
// # Knobs
//
// [Config] and the Set* methods set token lifetimes, rate limits, latency
// and a clock offset (the server's now is Config.Now() plus the offset; JWT
// iat and exp, key expiry, rate-limit windows and Retry-After dates follow
// it). [Server.FailRequests] and [Server.FailTokenRequests] queue
// [Fault]s: 5xx answers (optionally with Retry-After), hangs until the
// client gives up, malformed JSON, and connection resets.
// [Server.MintArtosToken] and [Server.MintAudiModalToken] mint tokens
// directly, for instance already expired ones.
//
// # Concurrency
//
// Every method of [Server] is safe for concurrent use, including while it
// serves requests. [Server.Close] releases hanging requests and shuts
// everything down.
package apiauthtest
