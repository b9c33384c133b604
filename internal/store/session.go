package store

import "time"

// Session is a console sign-in. The console's cookie carries a random
// session id; the store keeps only its SHA-256 (ID), as it does for API
// tokens, so that reading the store does not yield a usable cookie. A
// session lasts until it is deleted (sign-out), its token is deleted, or
// ExpiresAt, whichever comes first; every process sharing the store sees
// the same sessions.
type Session struct {
	ID        string
	TokenHash string // the API token signed in with (Token.Hash)
	CreatedAt time.Time
	ExpiresAt time.Time
}
