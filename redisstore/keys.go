package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when an options struct leaves
// Prefix empty.
const DefaultPrefix = "apiauth:"

// DefaultOpTimeout bounds each Redis command when an options struct leaves
// OpTimeout zero.
const DefaultOpTimeout = 200 * time.Millisecond

// keyspace names the Redis keys of one prefix. Every key of a credential
// is "<prefix>{<id>}:<kind>", where id is the hex SHA-256 of the
// credential's store key: odd characters in the store key are harmless, and
// the braces (a Redis Cluster hash tag) keep all keys of one credential in
// one slot, so a script may touch several of them.
type keyspace struct {
	prefix string
}

// id returns the hashed identity of a store key.
func (k keyspace) id(storeKey string) string {
	sum := sha256.Sum256([]byte(storeKey))
	return hex.EncodeToString(sum[:])
}

// key returns the Redis key of the given kind ("token", "lock", ...) for id.
func (k keyspace) key(id, kind string) string {
	return k.prefix + "{" + id + "}:" + kind
}

// channel returns the pub/sub channel of the given name under the prefix.
func (k keyspace) channel(name string) string {
	return k.prefix + name
}

// checkClient rejects a nil client, and a go-redis client whose options
// would let a command outlive the store's per-operation timeout: go-redis
// applies a context's deadline to socket reads and writes only with
// ContextTimeoutEnabled, and never with a Read/WriteTimeout of -2, which
// go-redis keeps as -1 in the options it returns.
// Clients of other types are accepted as they are.
func checkClient(c redis.UniversalClient) error {
	if c == nil {
		return errkind.New("apiauth: redisstore: nil client")
	}
	var enabled bool
	var read, write time.Duration
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		enabled, read, write = o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout
	case *redis.ClusterClient:
		o := c.Options()
		enabled, read, write = o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout
	case *redis.Ring:
		o := c.Options()
		enabled, read, write = o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout
	default:
		return nil
	}
	if !enabled {
		return errkind.New("apiauth: redisstore: the go-redis client must have ContextTimeoutEnabled: true, or Redis commands are not bounded by OpTimeout")
	}
	if read < 0 || write < 0 {
		return errkind.New("apiauth: redisstore: the go-redis client's ReadTimeout and WriteTimeout must not be -2, which disables socket deadlines and so OpTimeout")
	}
	return nil
}
