package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// connections knows every open connection and how many of its requests are
// handing alerts to the pipeline. http.Server.Shutdown waits for every
// active connection, so one client uploading a byte a second would hold the
// collector's exit for the whole read_timeout; on shutdown the receiver
// instead closes at once every connection with nothing in the pipeline (an
// upload, headers arriving slowly, an idle keep-alive): their senders were
// answered nothing, so nothing acknowledged is lost, and they retry.
type connections struct {
	mu       sync.Mutex
	draining bool
	open     map[net.Conn]int // requests in the pipeline on each connection
}

func newConnections() *connections { return &connections{open: make(map[net.Conn]int)} }

// track is the server's ConnState hook.
func (c *connections) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		if c.draining {
			closeNow(conn)
			return
		}
		c.open[conn] = 0
	case http.StateHijacked, http.StateClosed:
		delete(c.open, conn)
	}
}

// enterPipeline marks a request of conn as handing alerts on; it is refused
// once shutdown has begun. conn is nil outside a server (tests).
func (c *connections) enterPipeline(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return false
	}
	if n, ok := c.open[conn]; ok {
		c.open[conn] = n + 1
	}
	return true
}

func (c *connections) leavePipeline(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.open[conn]; ok && n > 0 {
		c.open[conn] = n - 1
	}
}

// drain starts the shutdown: every connection with nothing in the pipeline is
// closed now, and so is every connection accepted from now on.
func (c *connections) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	for conn, inPipeline := range c.open {
		if inPipeline == 0 {
			closeNow(conn)
		}
	}
}

func (c *connections) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// closeNow closes without a TLS close_notify, which could wait on a peer that
// reads nothing.
func closeNow(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	_ = conn.Close()
}

type connKey struct{}

// withConn is the server's ConnContext hook: it lets a handler find its
// connection.
func withConn(ctx context.Context, conn net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, conn)
}

func connOf(req *http.Request) net.Conn {
	conn, _ := req.Context().Value(connKey{}).(net.Conn)
	return conn
}
