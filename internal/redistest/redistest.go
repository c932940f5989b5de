// Package redistest starts throwaway redis-server processes on loopback, for
// the tests of the Redis-backed fleet stores and for the fleet example. Each
// server listens on a free port of 127.0.0.1, keeps nothing on disk
// (--save "" --appendonly no) and can be killed, restarted on the same port,
// paused and resumed, to exercise how the stores degrade.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvBinary names the environment variable that overrides the path of the
// redis-server binary.
const EnvBinary = "APIAUTH_REDIS_SERVER"

// ErrNoBinary is returned by [Launch] when no redis-server binary is found.
var ErrNoBinary = errors.New("redistest: no redis-server binary (install redis-server, e.g. `apt-get install redis-server`, or set " + EnvBinary + ")")

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Binary returns the path of the redis-server binary: $APIAUTH_REDIS_SERVER
// if set (and "" if nothing is there), else redis-server from PATH, else
// /usr/bin/redis-server if it exists. It returns "" when there is none.
func Binary() string {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	return ""
}

// Server is a redis-server child process on 127.0.0.1. Its methods are
// safe for concurrent use.
type Server struct {
	// Addr is "127.0.0.1:port"; it stays the same across Restart.
	Addr string

	bin  string
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	output  *lockedBuffer
	stopped bool
}

// Launch starts a redis-server on a free loopback port and waits until it
// answers PING. The caller must call [Server.Stop]. It returns [ErrNoBinary]
// when redis-server cannot be found.
func Launch() (*Server, error) {
	bin := Binary()
	if bin == "" {
		return nil, ErrNoBinary
	}
	dir, err := os.MkdirTemp("", "apiauth-redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	var lastErr error
	// The free port is found by listening on port 0 and closing: another
	// process may take it in between, so try a few ports.
	for range 5 {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir, port: port}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// Start launches a server for tb and stops it in tb.Cleanup. When no
// redis-server binary is found it skips tb with a loud message, except when
// the environment variable CI is "true": then it fails tb, so that CI never
// passes by skipping the fleet tests.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch()
	switch {
	case errors.Is(err, ErrNoBinary) && os.Getenv("CI") == "true":
		tb.Fatal("\n*** " + err.Error() + "\n*** CI=true: the Redis fleet tests must run\n")
	case errors.Is(err, ErrNoBinary):
		tb.Skip("\n*** " + err.Error() + "\n*** SKIPPING: the Redis fleet tests are NOT running\n")
	case err != nil:
		tb.Fatal(err)
	default:
		tb.Cleanup(s.Stop)
	}
	return s
}

// NewClient returns a go-redis client for s with ContextTimeoutEnabled set
// (the stores require it) and closes it in tb.Cleanup.
func NewClient(tb testing.TB, s *Server) *redis.Client {
	tb.Helper()
	c := redis.NewClient(ClientOptions(s))
	tb.Cleanup(func() { c.Close() })
	return c
}

// ClientOptions returns go-redis options for s: its address and
// ContextTimeoutEnabled, which the stores require.
func ClientOptions(s *Server) *redis.Options {
	return &redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on s.port and waits for PING. s.mu must not be
// held.
func (s *Server) start() error {
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd.Stdout, cmd.Stderr = out, out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr) == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("redistest: redis-server on port %d exited: %s", s.port, strings.TrimSpace(out.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redistest: redis-server on port %d did not answer PING within %s: %s", s.port, startTimeout, strings.TrimSpace(out.String()))
		}
	}
	s.mu.Lock()
	s.cmd, s.exited, s.output, s.stopped = cmd, exited, out, false
	s.mu.Unlock()
	return nil
}

// ping sends PING on a fresh connection and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redistest: unexpected answer to PING: %q", line)
	}
	return nil
}

// Kill stops the server abruptly (SIGKILL), as a crash would, and waits
// for it to exit. Its data is lost. Killing a killed server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited, stopped := s.cmd, s.exited, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if cmd == nil || stopped {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts a killed server again on the same address, empty. It
// retries for a while if the port is not free yet.
func (s *Server) Restart() error {
	s.Kill()
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Pause stops the process (SIGSTOP) without closing its sockets: clients
// connect and send, and get no answer, as with an overloaded server.
func (s *Server) Pause() error { return s.signal(sigStop) }

// Resume continues a paused process (SIGCONT).
func (s *Server) Resume() error { return s.signal(sigCont) }

func (s *Server) signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return errors.New("redistest: server is not running")
	}
	if sig == nil {
		return errors.New("redistest: pausing is not supported on this platform")
	}
	return s.cmd.Process.Signal(sig)
}

// Stop kills the server and removes its directory. It is safe to call more
// than once.
func (s *Server) Stop() {
	s.Kill()
	os.RemoveAll(s.dir)
}

// Output returns what the current redis-server process has logged.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
