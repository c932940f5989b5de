package redisstore

import "github.com/apiauth/apiauth/internal/tokencodec"

// Token entries are encoded by internal/tokencodec (shared with filestore),
// bound to their Redis key.
type codec = tokencodec.Codec

func newCodec(key []byte) (codec, error) { return tokencodec.New(key, "redisstore") }
