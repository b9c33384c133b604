package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

// The stylesheet, script and icons, written by hand: no build step.
//
//go:embed static
var staticFS embed.FS

// assets serves the embedded files. Pages link them with ?v=<hash of the
// file>, so that they may be cached for good and a new binary's assets
// are fetched at once.
type assets struct {
	files map[string]asset
}

type asset struct {
	data        []byte
	hash        string
	contentType string
}

func newAssets() *assets {
	a := &assets{files: map[string]asset{}}
	// The embedded tree cannot fail to read: it was read at build time.
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[p[len("static/"):]] = asset{data: b, hash: hex.EncodeToString(sum[:6]), contentType: ct}
		return nil
	})
	return a
}

// url is the versioned address of an asset.
func (a *assets) url(name string) string {
	f, ok := a.files[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + f.hash
}

func (c *console) static(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f, ok := c.assets.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	return nil
}

func (c *console) favicon(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	http.Redirect(w, r, c.assets.url("icon.svg"), http.StatusMovedPermanently)
	return nil
}
