package sqlstore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// token is a page token: the sort key and ids of the last row returned
// (keyset paging), or an offset (aggregations), with a hash of the query
// it belongs to so that it cannot silently page through another query.
type token struct {
	Hash   string          `json:"h"`
	Key    json.RawMessage `json:"k,omitempty"`
	IDs    []string        `json:"i,omitempty"`
	Offset int             `json:"o,omitempty"`
}

// maxToken bounds what is decoded from a client's token.
const maxToken = 4096

// queryHash identifies a query by everything but its page size and token.
func queryHash(parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		// The parts are plain strings and filter structs; this cannot
		// happen, and an empty hash would only make tokens mismatch.
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func encode(t token) string {
	b, _ := json.Marshal(t) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func encodeToken(hash string, key any, ids ...string) string {
	k, _ := json.Marshal(key) // numbers and strings: cannot fail
	return encode(token{Hash: hash, Key: k, IDs: ids})
}

func encodeOffset(hash string, offset int) string {
	return encode(token{Hash: hash, Offset: offset})
}

func decodeToken(s, hash string) (*token, error) {
	if len(s) > maxToken {
		return nil, invalid("page token: too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid("page token: malformed")
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.Hash == "" || t.Offset < 0 {
		return nil, invalid("page token: malformed")
	}
	if t.Hash != hash {
		return nil, invalid("page token: it belongs to a different query")
	}
	return &t, nil
}

// key decodes the token's sort key into v (*int64, *float64 or *string).
func (t *token) key(v any) error {
	if len(t.Key) == 0 {
		return fmt.Errorf("no key")
	}
	return json.Unmarshal(t.Key, v)
}
