package pacing

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The Node server is started once per test binary, on a loopback port the
// test picks, and stopped by TestMain. Each run uses a key of its own.
var (
	nodeOnce sync.Once
	nodeBase string
	nodeErr  string // why the server is unavailable; "" when it runs
	nodeFail bool   // unavailable in CI: fail rather than skip
	nodeCmd  *exec.Cmd
	nodeKeys atomic.Int64
)

func nodeURL(tb testing.TB) string {
	tb.Helper()
	nodeOnce.Do(startNode)
	if nodeErr != "" {
		if nodeFail {
			tb.Fatalf("Node limiter server (express-rate-limit, rolling-rate-limiter) unavailable with CI=true: %s", nodeErr)
		}
		tb.Skipf("SKIPPING the Node limiter rows (express-rate-limit, rolling-rate-limiter): %s (run `npm ci --ignore-scripts` in bench/pacing/testdata/node)", nodeErr)
	}
	return nodeBase
}

func startNode() {
	dir := filepath.Join("testdata", "node")
	nodeFail = os.Getenv("CI") == "true"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "express-rate-limit")); err != nil {
		nodeErr = "testdata/node/node_modules is missing"
		return
	}
	bin, err := exec.LookPath("node")
	if err != nil {
		nodeErr = "node is not on the PATH"
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nodeErr = err.Error()
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "server.js", fmt.Sprint(port), fmt.Sprint(steady), fmt.Sprint(window.Milliseconds()))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		nodeErr = err.Error()
		return
	}
	if err := cmd.Start(); err != nil {
		nodeErr = err.Error()
		return
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if !sent && strings.HasPrefix(sc.Text(), "ready ") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	select {
	case okay := <-ready:
		if !okay {
			nodeErr = "node server.js exited before it was ready"
			_ = cmd.Wait()
			return
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		nodeErr = "node server.js was not ready after 15 s"
		return
	}
	nodeCmd = cmd
	nodeBase = fmt.Sprintf("http://127.0.0.1:%d/", port)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if nodeCmd != nil {
		_ = nodeCmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = nodeCmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = nodeCmd.Process.Kill()
			<-done
		}
	}
	os.Exit(code)
}
