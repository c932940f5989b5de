package apiauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

// blockingOAuth2 is an oauth2.TokenSource whose Token blocks until release
// is closed; it counts its calls.
type blockingOAuth2 struct {
	calls   atomic.Int32
	release chan struct{}
	once    sync.Once
}

func newBlockingOAuth2() *blockingOAuth2 { return &blockingOAuth2{release: make(chan struct{})} }

func (b *blockingOAuth2) Token() (*oauth2.Token, error) {
	b.calls.Add(1)
	<-b.release
	return &oauth2.Token{AccessToken: "tok-1", Expiry: time.Now().Add(time.Hour)}, nil
}

func (b *blockingOAuth2) free() { b.once.Do(func() { close(b.release) }) }

// TestOAuth2AdapterReturnsOnContext: FromOAuth2 returns when ctx ends even
// though the oauth2 source blocks, and a later call joins the call in
// flight rather than calling the source again (issue 13 row 8).
func TestOAuth2AdapterReturnsOnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newBlockingOAuth2()
		defer ts.free()
		src := FromOAuth2(ts)
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			tok, err := src.Token(ctx)
			cancel()
			if tok != nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, %v; want context.DeadlineExceeded", tok, err)
			}
		}
		if n := ts.calls.Load(); n != 1 {
			t.Errorf("oauth2 source called %d times, want 1 (one call in flight)", n)
		}
		// Once the source returns, a call gets its token.
		ts.free()
		synctest.Wait()
		tok, err := src.Token(context.Background())
		if err != nil || tok.AccessToken != "tok-1" {
			t.Fatalf("after release: %v, %v", tok, err)
		}
	})
}

// TestOAuth2CacheCloseBounded: Close over FromOAuth2 with a blocked oauth2
// source returns at once with no error; the waiting caller gets ErrClosed.
func TestOAuth2CacheCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newBlockingOAuth2()
		defer ts.free()
		c := NewTokenCache(FromOAuth2(ts), nil)
		got := make(chan error, 1)
		go func() {
			_, err := c.Token(context.Background())
			got <- err
		}()
		synctest.Wait() // the refresh is blocked in ts.Token
		start := time.Now()
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Close took %s", d)
		}
		if err := <-got; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter: %v, want ErrClosed", err)
		}
	})
}

// TestCacheCloseBoundedSourceIgnoringContext: a source that ignores its
// context holds Close for closeWait at most; Close then reports it.
func TestCacheCloseBoundedSourceIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		c := NewTokenCache(TokenSourceFunc(func(context.Context) (*Token, error) {
			<-release
			return &Token{AccessToken: "tok-1"}, nil
		}), nil)
		go c.Token(context.Background())
		synctest.Wait()
		start := time.Now()
		err := c.Close()
		if d := time.Since(start); d != closeWait || err == nil {
			t.Errorf("Close after %s: %v; want an error after %s", d, err, closeWait)
		}
		close(release)
		synctest.Wait()
		if _, err := c.Token(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Token after Close: %v", err)
		}
	})
}
