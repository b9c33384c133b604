package server_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGracefulShutdown: when the server is told to stop while a client
// is uploading a blob, it stops accepting connections at once, lets the
// upload finish and acknowledges it, and Run returns without error only
// after that; the acknowledged blob is there, whole, when a server starts
// again on the same data directory.
func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	ts := startServerIn(t, data, t.TempDir())

	blob := make([]byte, 4<<20)
	rand.Read(blob)
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	// A monolithic upload: POST for a session, then one PUT whose body
	// the test writes in two halves, stopping the server in between.
	// Each request has a connection of its own: a connection kept alive
	// after the POST is idle until the server reads the PUT's first
	// bytes, and closing idle connections is what shutting down does.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest("POST", ts.URL+"/v2/team/shutdown/blobs/uploads/", nil)
	req.SetBasicAuth("vigil", ts.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = ts.URL + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	pr, pw := io.Pipe()
	put, _ := http.NewRequest("PUT", loc+sep+"digest="+digest, pr)
	put.SetBasicAuth("vigil", ts.Token)
	put.ContentLength = int64(len(blob))
	put.Header.Set("Content-Type", "application/octet-stream")
	type result struct {
		status int
		err    error
	}
	putDone := make(chan result, 1)
	go func() {
		resp, err := client.Do(put)
		if err != nil {
			putDone <- result{err: err}
			return
		}
		resp.Body.Close()
		putDone <- result{status: resp.StatusCode}
	}()
	if _, err := pw.Write(blob[:len(blob)/2]); err != nil {
		t.Fatal(err)
	}

	// Stop only once the server is reading the body: a connection the
	// server has not accepted yet is reset when its listener closes, as
	// with any server, and is no test of shutting down gracefully.
	waitUploadData(t, data)
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()

	// The listener closes: new connections are refused while the upload
	// is still in flight.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ts.Host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after being told to stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-stopped:
		t.Fatal("the server stopped with an upload in flight")
	case r := <-putDone:
		t.Fatalf("the upload ended before its body was sent: %d %v", r.status, r.err)
	default:
	}

	if _, err := pw.Write(blob[len(blob)/2:]); err != nil {
		r := <-putDone
		t.Fatalf("the upload in flight at shutdown was cut short (%v): status %d, error %v", err, r.status, r.err)
	}
	pw.Close()
	r := <-putDone
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("the upload in flight at shutdown: status %d, error %v; want 201", r.status, r.err)
	}
	<-stopped // Run returned; stopServer fails the test had it returned an error

	again := startServerIn(t, data, ts.dbDir)
	get, _ := http.NewRequest("GET", again.URL+"/v2/team/shutdown/blobs/"+digest, nil)
	get.SetBasicAuth("vigil", again.Token)
	resp, err = http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the acknowledged blob after restart: %d", resp.StatusCode)
	}
	if s := sha256.Sum256(got); hex.EncodeToString(s[:]) != digest[len("sha256:"):] {
		t.Fatalf("the blob read back after restart (%d bytes) is not the one acknowledged", len(got))
	}
}

// waitUploadData waits until an upload under the data directory has
// bytes in its data file.
func waitUploadData(t *testing.T, dataDir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		found := false
		filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "data" || !strings.Contains(p, "_uploads") {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Size() > 0 {
				found = true
			}
			return nil
		})
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never started writing the upload's body")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
