package apiauth_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/testrt"
)

// TestCacheRejectedTokensBackOff: an Artos token endpoint handing out JWTs
// that are already expired by the server's clock (iat and exp both past:
// the cache corrects them for skew, as a server clock behind ours does,
// and only the API's 401 tells) costs a handful of token fetches over 20
// requests, with backoff between them, not one per request (issue 13
// row 11).
func TestCacheRejectedTokensBackOff(t *testing.T) {
	fk := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, Now: time.Now})
	defer fk.Close()
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /artos/get-access-token", func(w http.ResponseWriter, r *http.Request) {
			fltJSON(200, `{"access_token":"`+fk.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute)+`"}`)(w, r)
		})
		mux.Handle("/", fk)
		var fetches, api atomic.Int32
		var nexts []time.Time
		rt := testrt.Func(func(r *http.Request) (*http.Response, error) {
			if fltIsToken(r.URL.Path) {
				fetches.Add(1)
			} else {
				api.Add(1)
			}
			return fltInProcess{mux}.RoundTrip(r)
		})
		base := fk.URL(apiauthtest.Artos)
		src, err := apiauth.NewTokenEndpoint(base+"/get-access-token", apiauthtest.ArtosUserID,
			&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: rt}})
		if err != nil {
			t.Fatal(err)
		}
		cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{OnRefreshError: func(err error, next time.Time) {
			if !errors.Is(err, apiauth.ErrTokenRejected) {
				t.Errorf("refresh error %v, want ErrTokenRejected", err)
			}
			nexts = append(nexts, next)
		}})
		defer cache.Close()
		c := fltClient(t, base, cache, apiauth.ClientOptions{Base: rt})
		for i := range 20 {
			_, err := c.Get(context.Background(), "api/v1/documents/", nil)
			if !errors.Is(err, apiauth.ErrUnauthorized) && !errors.Is(err, apiauth.ErrTokenRejected) {
				t.Errorf("request %d: %v, want the 401 or ErrTokenRejected", i, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		// 5 s of requests. The first attempt costs two fetches (the token,
		// and the one renewal after its 401), each later one a single
		// fetch; the backoff after each is 1 s doubling, jittered down to
		// half: 3 or 4 attempts, 4 or 5 fetches.
		if n := fetches.Load(); n < 3 || n > 6 {
			t.Errorf("%d token fetches (%d API requests) for 20 requests over 5 s, want 3 to 6", n, api.Load())
		}
		if testing.Verbose() {
			t.Logf("%d token fetches, %d API requests", fetches.Load(), api.Load())
		}
		for i := 1; i < len(nexts); i++ {
			if nexts[i].Sub(nexts[i-1]) < 500*time.Millisecond {
				t.Errorf("attempt %d scheduled %s after the previous one: no backoff", i, nexts[i].Sub(nexts[i-1]))
			}
		}
	})
}
