package redisstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings of the release subscription.
const (
	// notifyIdle is how long the subscription waits for a message before it
	// pings Redis, so that a connection closed while idle is noticed.
	notifyIdle = 15 * time.Second
	// notifyMinBackoff and notifyMaxBackoff bound the wait between
	// reconnection attempts after the subscription's connection failed.
	notifyMinBackoff = 100 * time.Millisecond
	notifyMaxBackoff = 5 * time.Second
)

// notifier wakes this process's lock waiters when any holder in the fleet
// releases a lock. Releases are published on one channel per prefix (the
// payload is the hashed credential id); one subscription per store, started
// by the first wait, fans them out. Notifications only make waiting prompt:
// a waiter also polls, so a message lost while the subscription reconnects
// delays it by one poll interval at most.
type notifier struct {
	client    redis.UniversalClient
	channel   string
	opTimeout time.Duration

	mu      sync.Mutex
	waiters map[string]chan struct{} // id -> closed at the next release of id
	started bool
	closed  bool
	sub     *redis.PubSub
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns
}

// watch returns a channel closed at the next release of id seen by the
// subscription (or when the subscription may have missed one). It starts
// the subscription if start is set; without it, and after close, it returns
// nil, which never fires.
func (n *notifier) watch(id string, start bool) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || (!n.started && !start) {
		return nil
	}
	if !n.started {
		n.started = true
		ctx, cancel := context.WithCancel(context.Background())
		n.cancel = cancel
		n.sub = n.client.Subscribe(ctx) // no channel yet: no connection yet
		n.done = make(chan struct{})
		n.waiters = make(map[string]chan struct{})
		go n.run(ctx)
	}
	ch, ok := n.waiters[id]
	if !ok {
		ch = make(chan struct{})
		n.waiters[id] = ch
	}
	return ch
}

// run receives release messages until ctx ends. go-redis reconnects and
// resubscribes on the receive after a failure.
func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	// An error here (Redis down) is retried by the receive below: the
	// channel is recorded in the subscription either way.
	_ = n.sub.Subscribe(ctx, n.channel)
	backoff := notifyMinBackoff
	for {
		msg, err := n.sub.ReceiveTimeout(ctx, notifyIdle)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Idle: a ping's write fails on a dead connection, which
				// makes go-redis reconnect.
				pctx, cancel := context.WithTimeout(ctx, n.opTimeout)
				_ = n.sub.Ping(pctx)
				cancel()
				continue
			}
			// The connection failed: releases may have been missed.
			n.wakeAll()
			t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, notifyMaxBackoff)
			continue
		}
		backoff = notifyMinBackoff
		switch m := msg.(type) {
		case *redis.Message:
			n.wake(m.Payload)
		case *redis.Subscription:
			// (Re)subscribed: a release may have happened just before.
			n.wakeAll()
		}
	}
}

func (n *notifier) wake(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.waiters[id]; ok {
		close(ch)
		delete(n.waiters, id)
	}
}

func (n *notifier) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, ch := range n.waiters {
		close(ch)
		delete(n.waiters, id)
	}
}

// close ends the subscription and waits for its goroutine.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	started := n.started
	n.mu.Unlock()
	if started {
		n.cancel()
		_ = n.sub.Close() // interrupts a blocked receive
		<-n.done
	}
	n.wakeAll()
}
