package filestore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/filestore"
)

// A process restarted twice on AudiModal's single-use refresh tokens: the
// first run logs in, every later one starts from the saved token, and each
// rotated refresh token is saved, so no run logs in again and no refresh
// token is presented twice.
func Example_restart() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	dir, err := os.MkdirTemp("", "apiauth-tokens")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	run := func(renew bool) {
		// One run of the process: a new source, cache and store each time.
		store, err := filestore.New(dir, nil)
		if err != nil {
			panic(err)
		}
		src, err := audimodal.NewLoginSource(srv.URL(apiauthtest.AudiModal), apiauth.Login{
			Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID,
		}, &apiauth.SourceOptions{HTTPClient: srv.Client()})
		if err != nil {
			panic(err)
		}
		cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{Store: store, StoreKey: "audimodal:" + apiauthtest.AudiModalEmail})
		defer cache.Close()
		tok, err := cache.Token(context.Background())
		if err != nil {
			panic(err)
		}
		if renew { // as after a 401: renewed with the saved refresh token
			cache.Invalidate(tok)
			if _, err := cache.Token(context.Background()); err != nil {
				panic(err)
			}
		}
	}
	run(false)
	run(true)
	run(true)
	st := srv.Stats().AudiModal
	fmt.Println("logins:", st.Logins, "refreshes:", st.Refreshes, "refresh tokens refused:", st.RefreshRejections)
	// Output: logins: 1 refreshes: 2 refresh tokens refused: 0
}
