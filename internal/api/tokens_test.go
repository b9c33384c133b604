package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

func TestTokens(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var created struct {
		Token struct {
			ID, Name, Role string
		}
		Secret string
	}
	r := h.call(admin, "POST", "/api/v1/tokens", map[string]string{"name": "ci", "role": "pipeline"}).expect(t, http.StatusCreated)
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, "vgl_") || created.Token.Name != "ci" || created.Token.Role != "pipeline" || created.Token.ID == "" {
		t.Fatalf("created %+v", created)
	}
	// The secret authenticates as the new token.
	h.Tokens["ci"] = created.Secret
	var who struct{ Name, Role, TokenID string }
	h.call("ci", "GET", "/api/v1/whoami", nil).expect(t, http.StatusOK).decode(t, &who)
	if who.Name != "ci" || who.Role != "pipeline" || who.TokenID != created.Token.ID {
		t.Errorf("whoami %+v", who)
	}
	// Only the hash is stored.
	stored, err := h.Store.TokenByHash(ctx, auth.Hash(created.Secret))
	if err != nil || stored.ID != created.Token.ID {
		t.Fatalf("token by hash: %+v, %v", stored, err)
	}
	if stored.Hash == created.Secret || strings.Contains(stored.Hash, created.Secret[4:]) {
		t.Error("the store holds the secret")
	}
	// Listing shows no secret and no hash.
	r = h.call(admin, "GET", "/api/v1/tokens", nil).expect(t, http.StatusOK)
	if strings.Contains(string(r.body), created.Secret[4:]) || strings.Contains(string(r.body), stored.Hash) || strings.Contains(string(r.body), `"hash"`) {
		t.Errorf("token list shows secrets: %s", r.body)
	}
	var list struct {
		Tokens []struct{ ID, Name, Role string }
	}
	r.decode(t, &list)
	if len(list.Tokens) != 4 {
		t.Errorf("%d tokens, want 4", len(list.Tokens))
	}

	h.call(admin, "POST", "/api/v1/tokens", map[string]string{"name": "ci", "role": "read-only"}).expect(t, http.StatusConflict)
	h.call(admin, "POST", "/api/v1/tokens", map[string]string{"name": "x", "role": "root"}).expect(t, http.StatusBadRequest)
	h.call(admin, "POST", "/api/v1/tokens", map[string]string{"name": "", "role": "admin"}).expect(t, http.StatusBadRequest)

	// A deleted token no longer authenticates.
	h.call(admin, "DELETE", "/api/v1/tokens/"+created.Token.ID, nil).expect(t, http.StatusNoContent)
	h.call("ci", "GET", "/api/v1/whoami", nil).expect(t, http.StatusUnauthorized)
	h.call(admin, "DELETE", "/api/v1/tokens/"+created.Token.ID, nil).expect(t, http.StatusNotFound)

	// The last admin token stays; with another admin it can go.
	h.call(admin, "DELETE", "/api/v1/tokens/tok-admin", nil).expect(t, http.StatusConflict)
	var second struct{ Secret string }
	h.call(admin, "POST", "/api/v1/tokens", map[string]string{"name": "admin 2", "role": "admin"}).expect(t, http.StatusCreated).decode(t, &second)
	h.Tokens["admin2"] = second.Secret
	h.call("admin2", "DELETE", "/api/v1/tokens/tok-admin", nil).expect(t, http.StatusNoContent)
	h.call(admin, "GET", "/api/v1/whoami", nil).expect(t, http.StatusUnauthorized)
	if _, err := h.Store.TokenByHash(ctx, auth.Hash(h.Tokens[admin])); err == nil {
		t.Error("deleted admin token still stored")
	}
}

func TestBasicAuthAndBadTokens(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/whoami", nil)
	req.SetBasicAuth("anyone", h.Tokens[store.RoleReadOnly])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("basic auth: %d", resp.StatusCode)
	}
	for _, hdr := range []string{"Bearer vgl_wrong", "Bearer ", "Token " + h.Tokens[admin], h.Tokens[admin]} {
		req, _ := http.NewRequest("GET", h.URL+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", hdr, resp.StatusCode)
		}
	}
	// Unknown paths need a token too, and are JSON errors with one.
	h.call(anonymous, "GET", "/api/v1/nothing", nil).expect(t, http.StatusUnauthorized)
	r := h.call(readOnly, "GET", "/api/v1/nothing", nil).expect(t, http.StatusNotFound)
	if code, _ := r.apiError(t); code != "NOT_FOUND" {
		t.Errorf("code %q", code)
	}
	r = h.call(readOnly, "DELETE", "/api/v1/whoami", nil).expect(t, http.StatusMethodNotAllowed)
	if code, _ := r.apiError(t); code != "METHOD_NOT_ALLOWED" || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("code %q, Allow %q", code, r.header.Get("Allow"))
	}
}
