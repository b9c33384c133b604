package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// testSessions: console sessions are kept until deleted, their token is
// deleted, or a later sign-in finds them expired.
func testSessions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	must(t, s.CreateToken(ctx, store.Token{ID: "t1", Name: "ci", Role: store.RoleAdmin, Hash: "h1", CreatedAt: base}))
	must(t, s.CreateToken(ctx, store.Token{ID: "t2", Name: "other", Role: store.RoleReadOnly, Hash: "h2", CreatedAt: base}))
	a := store.Session{ID: "s1", TokenHash: "h1", CreatedAt: base, ExpiresAt: base.Add(12 * time.Hour)}
	must(t, s.CreateSession(ctx, a))
	got, err := s.Session(ctx, "s1")
	must(t, err)
	if *got != a {
		t.Errorf("session %+v, want %+v", got, a)
	}
	wantErr(t, "same id", s.CreateSession(ctx, a), store.ErrConflict)
	wantErr(t, "unknown token", s.CreateSession(ctx, store.Session{ID: "s9", TokenHash: "nope", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}), store.ErrNotFound)
	wantErr(t, "no id", s.CreateSession(ctx, store.Session{TokenHash: "h1", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}), store.ErrInvalid)
	wantErr(t, "expires at creation", s.CreateSession(ctx, store.Session{ID: "s8", TokenHash: "h1", CreatedAt: base, ExpiresAt: base}), store.ErrInvalid)
	_, err = s.Session(ctx, "s2")
	wantErr(t, "unknown session", err, store.ErrNotFound)

	// Sign-out.
	must(t, s.DeleteSession(ctx, "s1"))
	_, err = s.Session(ctx, "s1")
	wantErr(t, "deleted session", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteSession(ctx, "s1"), store.ErrNotFound)

	// A deleted token takes its sessions, and only its, with it.
	must(t, s.CreateSession(ctx, store.Session{ID: "s3", TokenHash: "h1", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	must(t, s.CreateSession(ctx, store.Session{ID: "s4", TokenHash: "h2", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	must(t, s.DeleteToken(ctx, "t1"))
	_, err = s.Session(ctx, "s3")
	wantErr(t, "session of a deleted token", err, store.ErrNotFound)
	if _, err := s.Session(ctx, "s4"); err != nil {
		t.Errorf("another token's session: %v", err)
	}

	// A sign-in after s4 expired forgets it; one that has not is kept.
	must(t, s.CreateSession(ctx, store.Session{ID: "s5", TokenHash: "h2", CreatedAt: base.Add(30 * time.Minute), ExpiresAt: base.Add(2 * time.Hour)}))
	if _, err := s.Session(ctx, "s4"); err != nil {
		t.Errorf("a session not yet expired was forgotten: %v", err)
	}
	must(t, s.CreateSession(ctx, store.Session{ID: "s6", TokenHash: "h2", CreatedAt: base.Add(time.Hour), ExpiresAt: base.Add(3 * time.Hour)}))
	_, err = s.Session(ctx, "s4")
	wantErr(t, "expired session after a later sign-in", err, store.ErrNotFound)
	if _, err := s.Session(ctx, "s5"); err != nil {
		t.Errorf("s5: %v", err)
	}
}

// sharedSessions: a sign-in through one process is a session in the
// other, and a sign-out in the other ends it in the first.
func sharedSessions(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	must(t, a.CreateToken(ctx, store.Token{ID: "st", Name: "shared", Role: store.RoleAdmin, Hash: "sh", CreatedAt: base}))
	must(t, a.CreateSession(ctx, store.Session{ID: "ss", TokenHash: "sh", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	if _, err := b.Session(ctx, "ss"); err != nil {
		t.Fatalf("b does not see a's session: %v", err)
	}
	must(t, b.DeleteSession(ctx, "ss"))
	_, err := a.Session(ctx, "ss")
	wantErr(t, "a's session after b's sign-out", err, store.ErrNotFound)
}
