package egress_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/egress"
)

// denied holds an address of every class refused by default, with the
// words its refusal must use.
var denied = []struct{ addr, reason string }{
	{"127.0.0.1", "loopback"},
	{"127.255.255.254", "loopback"},
	{"::1", "loopback"},
	{"169.254.169.254", "metadata"},
	{"fd00:ec2::254", "metadata"},
	{"169.254.10.1", "link-local"},
	{"fe80::1", "link-local"},
	{"fe80::1%eth0", "link-local"},
	{"10.1.2.3", "private"},
	{"172.16.0.1", "private"},
	{"172.31.255.255", "private"},
	{"192.168.1.1", "private"},
	{"fc00::1", "private"},
	{"fd12:3456::1", "private"},
	{"fec0::1", "site-local"},
	{"100.64.0.1", "carrier-grade NAT"},
	{"100.127.255.255", "carrier-grade NAT"},
	{"0.0.0.0", "unspecified"},
	{"0.1.2.3", "unspecified"},
	{"::", "unspecified"},
	{"224.0.0.1", "multicast"},
	{"239.255.255.250", "multicast"},
	{"ff02::1", "multicast"},
	{"255.255.255.255", "broadcast"},
	{"240.0.0.1", "reserved"},
	{"192.0.0.8", "IETF"},
	{"198.18.0.1", "benchmarking"},
	// IPv6 forms that carry an IPv4 address are judged by it.
	{"::ffff:127.0.0.1", "loopback"},
	{"::ffff:169.254.169.254", "metadata"},
	{"::ffff:10.0.0.1", "private"},
	{"::ffff:192.168.0.1", "private"},
	{"::ffff:100.64.0.1", "carrier-grade NAT"},
	{"::ffff:0.0.0.0", "unspecified"},
	{"::127.0.0.1", "IPv4-compatible form of 127.0.0.1"},
	{"64:ff9b::7f00:1", "NAT64 form of 127.0.0.1"},
	{"64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"},
	{"64:ff9b:1::1", "NAT64"},
	{"2002:7f00:1::1", "6to4 form of 127.0.0.1"},
	{"2002:a00:1::", "6to4 form of 10.0.0.1"},
}

var public = []string{"8.8.8.8", "93.184.216.34", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}

func TestCheckAddrDefault(t *testing.T) {
	p := egress.Default()
	for _, c := range denied {
		err := p.CheckAddr(netip.MustParseAddr(c.addr))
		var d *egress.DeniedError
		if !errors.As(err, &d) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, want a refusal naming %q", c.addr, err, c.reason)
		}
	}
	for _, a := range public {
		if err := p.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s: %v, want allowed", a, err)
		}
	}
}

func TestAllowList(t *testing.T) {
	p, err := egress.New(egress.Options{Allow: []string{"127.0.0.1/32", "10.0.0.0/8", "169.254.0.0/16", "fd00::/8", "::1", " 192.168.7.7 ", "Hooks.Internal."}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "::ffff:127.0.0.1", "10.9.8.7", "169.254.1.1", "fd12::1", "::1", "192.168.7.7", "64:ff9b::a00:1"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s: %v, want allowed", a, err)
		}
	}
	// What the list does not name, or what no list opens: the metadata
	// addresses (unless named exactly), unspecified, multicast.
	for _, a := range []string{"127.0.0.2", "192.168.7.8", "169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1", "ff02::1", "255.255.255.255"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); err == nil {
			t.Errorf("%s allowed", a)
		}
	}
	if err := p.CheckURL(context.Background(), "https://hooks.internal:8443/x"); err != nil {
		t.Errorf("allowed host: %v", err)
	}
	meta, err := egress.New(egress.Options{Allow: []string{"169.254.169.254"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.CheckAddr(netip.MustParseAddr("169.254.169.254")); err != nil {
		t.Errorf("metadata address named exactly: %v", err)
	}
	if err := meta.CheckAddr(netip.MustParseAddr("169.254.169.253")); err == nil {
		t.Errorf("a neighbour of the named metadata address is allowed")
	}
	for _, bad := range []string{"10.0.0.0/33", "http://hooks.internal", "", "hooks..internal", "0x7f.1", "a b"} {
		if _, err := egress.New(egress.Options{Allow: []string{"8.8.8.8/32", bad}}); err == nil || !strings.Contains(err.Error(), "allow[1]") {
			t.Errorf("allow entry %q: %v, want an error naming allow[1]", bad, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	p := egress.Default()
	ctx := context.Background()
	for _, c := range denied {
		host := c.addr
		if strings.Contains(host, ":") {
			host = "[" + strings.Replace(host, "%", "%25", 1) + "]"
		}
		u := "http://" + host + ":8080/internal-admin"
		err := p.CheckURL(ctx, u)
		if err == nil || !strings.Contains(err.Error(), c.reason) || !strings.Contains(err.Error(), "internal-admin") {
			t.Errorf("%s: %v, want a refusal naming the URL and %q", u, err, c.reason)
		}
	}
	refusals := []struct{ url, want string }{
		{"http://localhost:9/x", "localhost resolves to 127.0.0.1, a loopback address"},
		{"http://LOCALHOST./x", "loopback"},
		{"http://api.localhost/x", "loopback"},
		{"http://2130706433/", "numeric"},
		{"http://0x7f.0.0.1/", "numeric"},
		{"http://0177.0.0.1/", "numeric"},
		{"http://127.1/", "numeric"},
		{"ftp://example.com/", "only http and https"},
		{"file:///etc/passwd", "only http and https"},
		{"gopher://127.0.0.1:6379/_", "only http and https"},
		{"http:///path", "no host"},
		{"http://exa mple.com/", "not a URL"},
		{"http://user:pw@127.0.0.1/?token=secret", "http://127.0.0.1/ is refused"},
	}
	for _, c := range refusals {
		err := p.CheckURL(ctx, c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pw@")) {
			t.Errorf("%s: the error shows credentials: %v", c.url, err)
		}
	}
	for _, u := range []string{"https://8.8.8.8/hook", "http://[2606:4700::1111]:8080/", "HTTPS://93.184.216.34/"} {
		if err := p.CheckURL(ctx, u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "https://[::ffff:10.0.0.1]/", "http://0x7f.1/", "http://localhost./", "http://a.b.c:99999/"} {
		f.Add(s)
	}
	p := egress.Default()
	f.Fuzz(func(t *testing.T, s string) {
		_ = p.CheckURL(context.Background(), s)
	})
}
