// Package apiauth is a client SDK for multi-tenant SaaS APIs that authenticate
// with bearer JWTs, API keys or header pairs.
//
// It takes the whole credential lifecycle off the caller's hands: it attaches
// the right headers, fetches and caches tokens, refreshes them before they
// expire, stays inside rate limits, retries what is safe to retry, and returns
// typed errors that can be matched with [errors.Is] and [errors.As].
//
// # Credentials
//
// [ParseAPIKey] reads AudiModal-style keys (sk_live_, sk_test_, tk_) and opaque
// bearer keys; [HeaderPair] carries Artanis' x-api-key + x-org-slug pair;
// [StaticToken] carries a bearer token handed out by an administrator. Every
// credential type prints redacted under fmt, encoding/json and log/slog.
//
// # Tokens
//
// A [TokenSource] fetches tokens: [TokenEndpoint] (Artos' POST
// /get-access-token, expiry read from the JWT exp claim), [LoginSource]
// (AudiModal's login + single-use refresh tokens) and [FromOAuth2] for any
// golang.org/x/oauth2 source. A [TokenCache] sits in front of a source: a fresh
// token is served with one atomic load and no allocation, a token inside the
// refresh-ahead window is still served while one background refresh runs, and
// only when no valid token exists do callers wait, all of them for one shared
// refresh. A refresh carries the context values (trace ids) of the call that
// started it, but not its cancellation.
//
// # State on demand
//
// [TokenCache.State] and [Client.RateLimitState] return snapshots of what
// the stack knows, for health endpoints and logs: the token's status,
// expiry and last failure; per host and credential identity, the limit,
// remaining count, reset and window the server last advertised. They hold
// no secret and are cheap to take while requests run.
//
// # Clients and the request path
//
// [NewClient] builds a [Client] for one base URL and one credential. Every
// request goes through one stack of http.RoundTripper layers from package
// transport, in the order [transport.New] fixes: retry (safe retries,
// Retry-After and retry_after honoured up to a maximum wait, a retry
// budget), rate-limit pacing (from X-RateLimit-* and IETF RateLimit
// headers), auth (origin and HTTPS checks, credential headers, tenant
// override, one retry after a 401 with a fresh token), then the base
// transport ([transport.NewBase] unless given: http.DefaultTransport's
// settings with a pool sized for many goroutines calling one host).
// [ClientOptions] is a plain value: its Retry and Pace fields are
// [transport.RetryOptions] and [transport.PaceOptions], from which every
// client builds layers of its own, so one options value may serve many
// clients (one per tenant) without their credentials ever meeting.
// [Client.HTTPClient] and [NewHTTPClient] hand the same stack to other
// libraries as a plain *http.Client; [CheckResponse] turns its answers into
// typed errors. [ClientOptions.OnResponse] shows every answer's status,
// request id and rate-limit snapshot, typed family methods included.
// [ClientOptions.Observer] (a [transport.Observer]) and
// [CacheOptions.OnRefreshStart] report calls, attempts, waits, rate-limit
// snapshots and token refreshes for tracing and metrics, without importing
// any tracing library; the nested module
// github.com/apiauth/apiauth/otel/apiauthotel maps them to OpenTelemetry.
//
// # Errors
//
// Answers with a status of 400 or more become an [*Error] (status, code,
// message, required role, expires-at, retry-after, request id) that matches
// the sentinels [ErrUnauthorized], [ErrForbidden], [ErrNotFound],
// [ErrRateLimited], [ErrTokenExpired], [ErrInvalidAPIKey],
// [ErrInsufficientPermissions] and [ErrServer] under errors.Is. A 429, or a
// wait the rate limit would need past the maximum, is a [*RateLimitError]
// carrying the reset time.
//
// # API families
//
// Each family has a package of its own, github.com/apiauth/apiauth/artos,
// …/artanis, …/voltasis and …/audimodal: its base URL, environment
// variable, tenant header (preset by its NewClient, set per request with
// [WithTenant]), token source and typed endpoints over a Client. Adding an
// API is one new package of the same shape. Package apiauthtest fakes all
// four in-process, for tests and examples.
//
// # Fleet mode
//
// Replicas behind one credential share their token and their rate budget
// through Redis with package redisstore: a [TokenCache] given a
// redisstore.TokenStore (a [TokenStore] and [TokenLocker]) makes one login
// and one refresh per expiry for the whole fleet, and transport.PaceOptions given
// a redisstore.Budget (a transport.SharedBudget) keeps the fleet inside one
// limit. When Redis is slow or down, each process falls back to its own
// cache and pacing, logs it once, and no request fails because of it.
//
// # Concurrency
//
// Every exported type is safe for concurrent use unless its documentation says
// otherwise.
package apiauth
