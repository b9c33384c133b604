package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Client returns the HTTP client for URLs users gave. It connects only
// to addresses the policy allows, judged on the address being dialled,
// after name resolution (see Control), so that a name resolving to
// another address than when it was checked gains nothing. It uses no
// proxy (the check would see the proxy's address, not the target's), and
// follows no redirect: a 3xx is the answer. Each call makes a new client,
// with its own connection pool; requests bring their own deadline.
func (p *Policy) Client() *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DialContext dials as net.Dialer does, refusing addresses the policy
// refuses; a host the allow-list names is dialled at whatever address it
// resolves to.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: p.resolver, Control: p.Control}
	if host, _, err := net.SplitHostPort(addr); err == nil && p.hosts[normalHost(host)] {
		d.Control = nil
	}
	return d.DialContext(ctx, network, addr)
}

// Control is a net.Dialer Control function: it runs once the address to
// connect to is known, before connecting, and refuses (with a
// *DeniedError) what the policy refuses, and anything but TCP.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("egress: refused to connect to %s over %s: only TCP is allowed", address, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: refused to connect to %q: %w", address, err)
	}
	return p.CheckAddr(ap.Addr())
}
