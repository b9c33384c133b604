// Package egress decides where Vigil may connect on behalf of a URL that
// a user gave it — the webhook targets of event rules and the callback
// URLs of gate requests — and provides the one HTTP client that keeps to
// that decision when it connects.
//
// By default only public addresses may be reached: loopback, private,
// link-local, carrier-grade NAT, unspecified, multicast and reserved
// addresses, the cloud metadata addresses, and the IPv6 forms that embed
// any of them (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are refused, so
// that a URL cannot make the server reach what only it can reach. An
// allow-list (CIDRs, addresses, host names) opens what a self-hosted
// installation needs. A URL is checked when it is given (CheckURL), and
// again on every connection, on the address actually dialled (Client), so
// that a name that resolves differently later — DNS rebinding — gains
// nothing.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Policy is an egress policy. It is not changed after New and is safe for
// concurrent use.
type Policy struct {
	allow    []netip.Prefix
	hosts    map[string]bool
	resolver *net.Resolver
}

// Options configure a Policy.
type Options struct {
	// Allow lists what may be reached despite the default refusals: a
	// CIDR ("10.0.0.0/8", "fd00::/8"), one address ("127.0.0.1"), or a
	// host name ("hooks.internal"), which then may be reached at
	// whatever address it resolves to. The metadata addresses are opened
	// only by naming them exactly; unspecified, multicast and reserved
	// addresses never.
	Allow []string
	// Resolver resolves host names, both for CheckURL and when
	// connecting (nil: net.DefaultResolver).
	Resolver *net.Resolver
}

// New makes a policy, refusing allow-list entries it cannot read.
func New(o Options) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}, resolver: o.Resolver}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	for i, e := range o.Allow {
		e = strings.TrimSpace(e)
		if pf, err := netip.ParsePrefix(e); err == nil {
			p.allow = append(p.allow, pf.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			a = a.Unmap().WithZone("")
			p.allow = append(p.allow, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		h := normalHost(e)
		if !validHostName(h) || looksNumeric(h) {
			return nil, fmt.Errorf("egress: allow[%d] %q: not a CIDR, an IP address or a host name", i, e)
		}
		p.hosts[h] = true
	}
	return p, nil
}

// Default is the policy with an empty allow-list.
func Default() *Policy {
	p, _ := New(Options{})
	return p
}

// DeniedError is a refused address or URL.
type DeniedError struct {
	// URL is the URL refused ("" when an address was dialled).
	URL string
	// Host is the URL's host name when it was resolved to Addr.
	Host string
	Addr netip.Addr
	// Reason says what the address is ("a loopback address").
	Reason string
	// Fixed is set when no allow-list entry can open the address.
	Fixed bool
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("egress: ")
	if e.URL != "" {
		fmt.Fprintf(&b, "%s is refused: ", e.URL)
	} else {
		b.WriteString("refused to connect to ")
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		fmt.Fprintf(&b, "%s resolves to ", e.Host)
	}
	if e.Addr.IsValid() {
		fmt.Fprintf(&b, "%s, ", e.Addr)
	}
	b.WriteString(e.Reason)
	b.WriteString(", which webhooks and callbacks may not reach")
	if !e.Fixed {
		b.WriteString(" (an administrator can allow it: egress.allow in the configuration file, or --egress-allow)")
	}
	return b.String()
}

// class is a range refused by default.
type class struct {
	prefix netip.Prefix
	reason string
	// fixed: no allow-list entry opens it; exact: only an entry naming
	// exactly this range does.
	fixed, exact bool
}

func refused(cidr, reason string) class {
	return class{prefix: netip.MustParsePrefix(cidr), reason: reason}
}

// classes are checked in order; the first that holds an address says why
// it is refused. The metadata addresses come before the ranges that hold
// them, so that opening link-local or private space does not open them.
var classes = []class{
	{prefix: netip.MustParsePrefix("169.254.169.254/32"), reason: "the cloud metadata address", exact: true},
	{prefix: netip.MustParsePrefix("fd00:ec2::254/128"), reason: "the cloud metadata address", exact: true},
	{prefix: netip.MustParsePrefix("0.0.0.0/8"), reason: "an unspecified (\"this network\") address", fixed: true},
	refused("127.0.0.0/8", "a loopback address"),
	refused("169.254.0.0/16", "a link-local address"),
	refused("10.0.0.0/8", "a private address"),
	refused("172.16.0.0/12", "a private address"),
	refused("192.168.0.0/16", "a private address"),
	refused("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
	refused("192.0.0.0/24", "an IETF protocol assignment address"),
	refused("198.18.0.0/15", "a benchmarking address"),
	{prefix: netip.MustParsePrefix("224.0.0.0/4"), reason: "a multicast address", fixed: true},
	{prefix: netip.MustParsePrefix("240.0.0.0/4"), reason: "a reserved or broadcast address", fixed: true},
	{prefix: netip.MustParsePrefix("::/128"), reason: "the unspecified address", fixed: true},
	refused("::1/128", "a loopback address"),
	refused("fe80::/10", "a link-local address"),
	refused("fec0::/10", "a site-local address"),
	refused("fc00::/7", "a unique local (private) address"),
	refused("64:ff9b:1::/48", "a local-use NAT64 address"),
	{prefix: netip.MustParsePrefix("ff00::/8"), reason: "a multicast address", fixed: true},
}

// Embedded IPv4 forms: the IPv4 address inside is judged instead.
var (
	compat4 = netip.MustParsePrefix("::/96")        // IPv4-compatible (deprecated)
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 prefix
	sixTo4  = netip.MustParsePrefix("2002::/16")
)

// CheckAddr says whether a may be connected to: nil, or a *DeniedError.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return &DeniedError{Reason: "an invalid address", Fixed: true}
	}
	a = a.WithZone("").Unmap()
	if v4, how := embedded(a); how != "" {
		if err := p.CheckAddr(v4); err != nil {
			d := err.(*DeniedError)
			return &DeniedError{Addr: a, Reason: how + " of " + v4.String() + ", " + d.Reason, Fixed: d.Fixed}
		}
		return nil
	}
	for _, c := range classes {
		if !c.prefix.Contains(a) {
			continue
		}
		if !c.fixed && p.allowed(a, c.exact) {
			return nil
		}
		return &DeniedError{Addr: a, Reason: c.reason, Fixed: c.fixed}
	}
	return nil
}

// embedded returns the IPv4 address an IPv6 address carries, and what
// kind of form it is.
func embedded(a netip.Addr) (netip.Addr, string) {
	if !a.Is6() {
		return netip.Addr{}, ""
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "a NAT64 form"
	case compat4.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		return netip.AddrFrom4([4]byte(b[12:16])), "an IPv4-compatible form"
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "a 6to4 form"
	}
	return netip.Addr{}, ""
}

func (p *Policy) allowed(a netip.Addr, exact bool) bool {
	for _, pf := range p.allow {
		if exact && pf.Bits() != a.BitLen() {
			continue
		}
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// resolveTimeout bounds the name lookup of CheckURL.
const resolveTimeout = 3 * time.Second

// CheckURL checks a URL given to Vigil to connect to: it must be http or
// https, with a host; an IP address must be one the policy allows, and so
// must every address a host name resolves to now ("localhost" and
// *.localhost are loopback without asking). A name that does not resolve
// now passes: every connection is checked again (see Client).
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("egress: %q is not a URL: %w", raw, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("egress: %q: only http and https URLs are allowed", redact(raw))
	}
	shown := redact(raw)
	host := normalHost(u.Hostname())
	if host == "" {
		return fmt.Errorf("egress: %q has no host", shown)
	}
	if p.hosts[host] {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(a); err != nil {
			d := err.(*DeniedError)
			d.URL = shown
			return d
		}
		return nil
	}
	if looksNumeric(host) {
		return fmt.Errorf("egress: %s is refused: host %q is a numeric address in a form other than dotted-quad IPv4 or IPv6, which resolvers read differently", shown, host)
	}
	if !validHostName(host) {
		return fmt.Errorf("egress: %s: host %q is not a valid host name", shown, host)
	}
	var addrs []netip.Addr
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	} else {
		ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		addrs, err = p.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil // judged when connecting
		}
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			d := err.(*DeniedError)
			d.URL, d.Host = shown, host
			return d
		}
	}
	return nil
}

func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// looksNumeric reports whether h is made only of numbers, as inet_aton
// reads them ("2130706433", "0x7f.1", "0177.0.0.1"): system resolvers
// turn those into addresses, so they are judged as addresses or refused.
func looksNumeric(h string) bool {
	for part := range strings.SplitSeq(h, ".") {
		s := part
		if x, ok := strings.CutPrefix(s, "0x"); ok {
			s = x
			if strings.Trim(s, "0123456789abcdef") != "" {
				return false
			}
			continue
		}
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return false
		}
	}
	return true
}

// validHostName accepts letters, digits, '-', '_' and dots between labels.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// redact drops a URL's user information and query, which may hold
// credentials, from what errors show.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = nil, "", "", "", false
	return u.String()
}
