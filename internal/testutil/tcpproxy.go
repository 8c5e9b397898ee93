package testutil

import (
	"net"
	"sync"
	"testing"
)

type proxyState int

const (
	proxyUp      proxyState = iota
	proxyCut                // connections closed, new ones refused
	proxyStalled            // nothing forwarded, nothing closed: a partition
)

// Proxy forwards TCP connections to a target and can cut or stall them, to
// play a network outage between a component and its database.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	state  proxyState
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target until the
// test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and refuses new ones (they are accepted and
// closed at once, as a dead peer behind a load balancer looks).
func (p *Proxy) Cut() { p.set(proxyCut) }

// Stall stops forwarding without closing anything: queries already sent get
// no answer and new connections get no greeting, as a network partition
// looks. Only timeouts end the wait.
func (p *Proxy) Stall() { p.set(proxyStalled) }

// Restore lets traffic through again; stalled connections resume.
func (p *Proxy) Restore() { p.set(proxyUp) }

// Close stops the proxy.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.set(proxyCut)
	p.wg.Wait()
}

func (p *Proxy) set(s proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = s
	if s == proxyCut {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
	p.cond.Broadcast()
}

// waitUp blocks while stalled and reports whether traffic may flow.
func (p *Proxy) waitUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == proxyStalled {
		p.cond.Wait()
	}
	return p.state == proxyUp
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.connect(c)
	}
}

func (p *Proxy) connect(c net.Conn) {
	defer p.wg.Done()
	p.track(c)
	if !p.waitUp() {
		_ = c.Close()
		return
	}
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(upstream)
	p.wg.Add(2)
	go p.pipe(c, upstream)
	go p.pipe(upstream, c)
}

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitUp() {
				break
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
}
