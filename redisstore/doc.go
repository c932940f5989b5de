// Package redisstore shares apiauth's token state and rate budgets between
// the processes of a fleet through Redis, using github.com/redis/go-redis/v9.
//
// # Running a fleet
//
// Each replica of a service (pod, worker, process) that uses one credential
// keeps its own [apiauth.TokenCache]. On their own, N replicas make N logins
// and N refreshes per token expiry, and with single-use refresh tokens
// (AudiModal) they spend each other's refresh tokens and fall back to full
// logins. Give their caches one [TokenStore] and the fleet logs in once and
// refreshes once per expiry, whatever its size:
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "redis:6379",
//		ContextTimeoutEnabled: true, // required: lets the store bound every command
//	})
//	defer client.Close()
//
//	store, err := redisstore.NewTokenStore(client, &redisstore.TokenOptions{
//		Prefix:        "billing:apiauth:", // one namespace per service
//		EncryptionKey: key,                // optional: 32 bytes from your secret manager
//	})
//	if err != nil { ... }
//	defer store.Close()
//
//	src, err := apiauth.NewLoginSource("https://api.audimodal.ai", login, nil)
//	if err != nil { ... }
//	cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{
//		Store:    store,
//		StoreKey: "audimodal:" + login.Email, // names the credential; never a secret
//	})
//	defer cache.Close() // runs before store.Close
//
// Every replica must use the same Prefix and StoreKey for the same
// credential, and a different StoreKey for each credential.
//
// What happens: requests are served from each replica's memory and never
// touch Redis. When the token nears its expiry, each cache first looks in
// Redis: a newer token stored by another replica is adopted at once.
// Otherwise it takes the credential's refresh lock; the first holder renews
// the token (with its refresh token, or by logging in) and stores the new
// one before releasing the lock; the others, once they get the lock, find
// that new token and adopt it without calling the API. A release is
// announced over Redis pub/sub, so waiters move on at once; they also poll,
// so a lost notification costs at most PollInterval (100 ms).
//
// Redis keys, per credential (id is the hex SHA-256 of the StoreKey, so
// key names carry no credential data, and the braces keep a credential's
// keys in one Redis Cluster slot):
//
//	<prefix>{<id>}:token   the token: access and refresh token, type, expiry, extra
//	                       fields; AES-GCM sealed when EncryptionKey is set.
//	                       TTL: until the token's expiry plus Grace (10 min).
//	<prefix>{<id>}:lock    the refresh lock: a random fencing value, set with
//	                       SET NX PX. TTL: Lease (5 s), renewed every Lease/3
//	                       while its holder lives; deleted on release by a
//	                       compare-and-delete script.
//	<prefix>lock-released  pub/sub channel: the id of each released lock.
//
// When things go wrong:
//   - Redis slow or down: every command fails within OpTimeout (200 ms). Each
//     cache logs "token store unavailable, refreshing locally" once, at warn
//     level, and refreshes on its own; requests keep working. When Redis
//     answers again the cache logs "token store available again" and the
//     fleet converges on one shared token at the next refresh. While Redis
//     is down, replicas holding the same single-use refresh token spend it
//     once between them: the others are refused and log in again.
//   - The lock holder dies mid-refresh: its lease is no longer renewed and
//     ends at most Lease later; the next replica takes the lock and
//     refreshes.
//   - A holder slower than half of a waiter's CacheOptions.RefreshTimeout
//     (30 s): that waiter stops waiting after half of its RefreshTimeout
//     and refreshes on its own within the other half. Keep RefreshTimeout
//     above twice the token endpoint's worst response time.
//   - A lock key without a TTL (set by hand or by a tool; a holder always
//     sets one): the first waiter that sees it gives it a TTL of Lease,
//     after which the next replica takes the lock as from a dead holder.
//   - A holder cut off from Redis for longer than Lease loses the lock while
//     still refreshing, and a second refresh can happen. Nothing can fence
//     the token endpoint itself; a refused single-use refresh token then
//     costs one extra login.
//
// Settings ([TokenOptions]; the zero value of each means its default):
//
//	Prefix         "apiauth:"  start of every key and channel name
//	OpTimeout      200 ms      bound of each Redis command
//	Lease          5 s         lock lifetime; the wait after a holder dies
//	Grace          10 min      how long an entry outlives its token
//	PollInterval   100 ms      longest wait between lock attempts
//	EncryptionKey  none        AES-GCM key for the entries (16, 24 or 32 bytes)
//
// Requirements and security:
//   - A go-redis client (*redis.Client, *redis.ClusterClient, *redis.Ring,
//     or any [redis.UniversalClient]) with ContextTimeoutEnabled set and no
//     Read/WriteTimeout of -2: otherwise go-redis ignores the per-command
//     deadlines ([NewTokenStore] refuses such a *redis.Client, ClusterClient
//     or Ring). Redis 6 or later (tested with 7.0).
//   - Entries hold live tokens. Restrict the service's Redis user to its
//     prefix (ACL "~billing:apiauth:*" and "&billing:apiauth:*"), use TLS,
//     and set EncryptionKey so that a Redis dump reveals nothing. To rotate
//     the key, change Prefix with it: the new namespace starts empty.
//   - The store never logs and never puts a token in an error.
//   - Expiries are stored as absolute times: keep the fleet's clocks
//     synchronized (NTP).
//
// To watch it work offline, run go run ./examples/fleet: it starts a
// throwaway redis-server and three replicas against the built-in fake
// AudiModal, then kills and restarts Redis.
//
// # Shared rate budget
//
// A rate limit counts per API key, however many replicas use the key.
// Alone, each replica's [transport.Pace] paces to the whole limit and
// together they overrun it. Give their Paces one [Budget] and every request
// of the fleet books a slot in one budget in Redis, at Pace.Utilization
// (97%) of the limit, spaced evenly across the replicas:
//
//	budget, err := redisstore.NewBudget(client, &redisstore.BudgetOptions{
//		Prefix: "billing:apiauth:", // may be the TokenStore's
//	})
//	if err != nil { ... }
//	api, err := apiauth.NewClient("https://api.audimodal.ai", key, &apiauth.ClientOptions{
//		Pace:     transport.PaceOptions{Shared: budget},
//		Identity: "audimodal:billing", // names the budget; never a secret
//	})
//
// Every replica must use the same Prefix and the same Identity for the same
// credential. For an [apiauth.APIKey], [apiauth.StaticToken] or
// [apiauth.HeaderPair] the default identity is already a stable hash of the
// secret, the same in every replica, so Identity may stay empty; for an
// [apiauth.TokenCache] with a Store it is derived from StoreKey. Any other
// credential gets a random identity per client: set Identity for it.
//
// What happens: Pace learns the limit and the window from the server's
// headers (until it knows the window, it books what is left until the
// reset). Then, before each request it lets go, it calls [Budget.Reserve]:
// one Lua script that runs a generic cell rate algorithm (GCRA) on
// Redis' own clock (TIME), so the replicas' clocks do not matter. It books
// the next free slot, window/rate after the one before, and returns how
// long to wait for it. Each process still paces from the headers too; the
// budget only adds waits. In one run of BenchmarkFleetThroughput (four
// processes, 50 requests per second allowed), 5.6% of the fleet's requests
// were refused with 429 without the budget, and none with it, which used
// 97.7% of the limit.
//
// Redis key, per host and credential identity (id is the hex SHA-256 of
// the two, so the key name carries no credential data):
//
//	<prefix>{<id>}:budget  the next free slot, in microseconds of Redis' clock.
//	                       TTL: one window past that slot.
//
// When Redis is slow or down, Reserve fails within OpTimeout (200 ms), then
// at once, without a command, until ProbeInterval (1 s) has passed, when
// one call tries Redis again. Pace logs "shared budget unavailable, pacing
// locally" once, at warn level, and each process paces on its own (the
// fleet may then overrun the limit as it would without the budget; the
// retry layer handles the 429s). No request fails because Redis is down.
// When a reservation works again, Pace logs "shared budget available
// again" once.
//
// Settings ([BudgetOptions]): Prefix and OpTimeout as for TokenOptions, and
//
//	ProbeInterval  1 s         how long Reserve fails at once after a failure
package redisstore
