package transport

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// NewBase keeps a connection for every concurrent worker to one host: after
// a wave of 16 concurrent requests, a second wave reuses all 16
// connections, where net/http's default keeps 2 idle and dials (with a TLS
// handshake) 14 new ones.
func TestNewBaseKeepsConnectionsForConcurrentWorkers(t *testing.T) {
	const workers = 16
	var (
		conns   atomic.Int64
		mu      sync.Mutex
		waiting int
		gate    = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answer only once all the wave's requests are in flight, so each
		// holds a connection of its own.
		mu.Lock()
		waiting++
		g := gate
		if waiting == workers {
			close(gate)
			waiting, gate = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-g:
		case <-time.After(10 * time.Second):
			http.Error(w, "the wave never filled", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	wave := func(hc *http.Client) {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				resp, err := hc.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				// Reading to EOF puts the connection back in the idle pool
				// before Read returns.
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
			})
		}
		wg.Wait()
	}
	twoWaves := func(tr *http.Transport) (first, second int64) {
		defer tr.CloseIdleConnections()
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		hc := &http.Client{Transport: tr}
		conns.Store(0)
		wave(hc)
		first = conns.Load()
		wave(hc)
		return first, conns.Load() - first
	}

	first, second := twoWaves(NewBase())
	if first != workers || second != 0 {
		t.Errorf("NewBase: %d connections for the first wave of %d, %d new for the second; want %d and 0", first, workers, second, workers)
	}
	first, second = twoWaves(http.DefaultTransport.(*http.Transport).Clone())
	if second != workers-2 {
		t.Errorf("net/http's default: %d connections, then %d new; the test expects it to keep 2 and dial %d", first, second, workers-2)
	}

	if b := NewBase(); b.MaxIdleConnsPerHost != DefaultBaseMaxIdleConnsPerHost || b.MaxIdleConns < DefaultBaseMaxIdleConnsPerHost ||
		b.TLSHandshakeTimeout == 0 || b.Proxy == nil {
		t.Errorf("NewBase() = %+v", b)
	}
}
