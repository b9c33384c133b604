package egress_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigilsec/vigil/internal/egress"
)

// TestControl: the dialer's check refuses denied addresses and other
// networks than TCP, and lets public addresses through.
func TestControl(t *testing.T) {
	p := egress.Default()
	for _, c := range denied {
		ap := netip.AddrPortFrom(netip.MustParseAddr(c.addr), 443)
		network := "tcp6"
		if ap.Addr().Is4() {
			network = "tcp4"
		}
		err := p.Control(network, ap.String(), nil)
		var d *egress.DeniedError
		if !errors.As(err, &d) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, want a refusal naming %q", ap, err, c.reason)
		}
	}
	if err := p.Control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public address: %v", err)
	}
	if err := p.Control("udp4", "8.8.8.8:53", nil); err == nil {
		t.Errorf("UDP allowed")
	}
}

func hits(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/internal-admin", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestClientRefusesLoopback: a name that resolves to a loopback address
// is refused when connecting, whatever was checked before, and nothing
// reaches the server.
func TestClientRefusesLoopback(t *testing.T) {
	srv, n := hits(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{"http://localhost:" + port + "/internal-admin", srv.URL + "/internal-admin"} {
		resp, err := egress.Default().Client().Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: %s, want a refusal", u, resp.Status)
		}
		var d *egress.DeniedError
		if !errors.As(err, &d) || !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v, want a refusal of 127.0.0.1 as loopback", u, err)
		}
	}
	if n.Load() != 0 {
		t.Errorf("%d requests reached the server", n.Load())
	}
}

// TestClientAllowedAndNoRedirect: an allowed address is reached; a
// redirect is the answer, not followed.
func TestClientAllowedAndNoRedirect(t *testing.T) {
	srv, n := hits(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, err := egress.New(egress.Options{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Client()
	// localhost may also resolve to ::1, which stays refused: the dialer
	// goes on to 127.0.0.1.
	for _, u := range []string{srv.URL + "/hook", "http://localhost:" + port + "/hook"} {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: %s", u, resp.Status)
		}
	}
	before := n.Load()
	resp, err := c.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/internal-admin" {
		t.Errorf("redirect answered %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if got := n.Load() - before; got != 1 {
		t.Errorf("%d requests for one redirect: it was followed", got)
	}
}

// TestDNSRebinding: a name that resolves to a public address when the
// URL is checked and to 127.0.0.1 when connecting (a DNS server under the
// test's control, asked by Go's own resolver) passes the check and is
// refused at the connection.
func TestDNSRebinding(t *testing.T) {
	srv, n := hits(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := startDNS(t, netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1"))
	p, err := egress.New(egress.Options{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", dns)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	u := "http://rebind.test:" + port + "/internal-admin"
	if err := p.CheckURL(context.Background(), u); err != nil {
		t.Fatalf("check while the name is public: %v", err)
	}
	resp, err := p.Client().Post(u, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("rebound name reached: %s", resp.Status)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("rebound name: %v", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests reached the server", n.Load())
	}
}

// startDNS answers A queries over UDP (RFC 1035) with first, then with
// then for every later query, and AAAA queries with no address.
func startDNS(t *testing.T, first, then netip.Addr) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var asked atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			// Header (12 bytes), then one question: name, type, class.
			if n < 12+5 || binary.BigEndian.Uint16(q[4:6]) != 1 {
				continue
			}
			end := 12
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5 // the root label, type and class
			if end > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
			resp := append([]byte(nil), q[:end]...)
			resp[2] = 0x84 | resp[2]&0x01 // response, authoritative, keep RD
			resp[3] = 0x00                // no error
			binary.BigEndian.PutUint16(resp[6:8], 0)
			binary.BigEndian.PutUint16(resp[8:10], 0)
			binary.BigEndian.PutUint16(resp[10:12], 0)
			if qtype == 1 { // A
				a := then
				if asked.Add(1) == 1 {
					a = first
				}
				binary.BigEndian.PutUint16(resp[6:8], 1)
				ip := a.As4()
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
				resp = append(resp, ip[:]...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}
