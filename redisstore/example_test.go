package redisstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/redisstore"
)

// Each replica of a service builds the same store and cache: between them
// they log in once and refresh once per token expiry. (Not run: it needs a
// Redis server and the AudiModal API.)
func ExampleNewTokenStore() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "redis:6379",
		ContextTimeoutEnabled: true, // required: lets the store bound every command
	})
	defer client.Close()

	store, err := redisstore.NewTokenStore(client, &redisstore.TokenOptions{Prefix: "billing:apiauth:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	login := apiauth.Login{Email: "svc@example.com", Password: "from-your-secret-store", TenantID: "tenant_123"}
	src, err := apiauth.NewLoginSource("https://api.audimodal.ai", login, nil)
	if err != nil {
		log.Fatal(err)
	}
	cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{
		Store:    store,
		StoreKey: "audimodal:" + login.Email,
	})
	defer cache.Close()

	api, err := apiauth.NewClient("https://api.audimodal.ai", cache, nil)
	if err != nil {
		log.Fatal(err)
	}
	var health map[string]any
	if _, err := api.Get(context.Background(), "v1/health", &health); err != nil {
		log.Fatal(err)
	}
	fmt.Println(health["status"])
}
