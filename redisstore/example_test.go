package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/redisstore"
	"github.com/apiauth/apiauth/transport"
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

// Each replica of a service calling AudiModal with one API key books its
// requests in one shared budget, so that together they stay inside the
// key's rate limit. The default identity of an API key is a hash of it,
// the same in every replica. (Not run: it needs a Redis server and the
// AudiModal API.)
func ExampleNewBudget() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "redis:6379",
		ContextTimeoutEnabled: true, // required: lets the budget bound every command
	})
	defer client.Close()

	budget, err := redisstore.NewBudget(client, &redisstore.BudgetOptions{Prefix: "billing:apiauth:"})
	if err != nil {
		log.Fatal(err)
	}
	key, err := apiauth.ParseAPIKey(os.Getenv("AUDIMODAL_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	api, err := apiauth.NewClient("https://api.audimodal.ai", key, &apiauth.ClientOptions{
		Pace: transport.PaceOptions{Shared: budget},
	})
	if err != nil {
		log.Fatal(err)
	}
	var health map[string]any
	if _, err := api.Get(context.Background(), "v1/health", &health); err != nil {
		log.Fatal(err)
	}
	fmt.Println(health["status"])
}
