package analyze

import (
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
)

// LayerResult is what one layer holds, on its own: the packages in its
// files, its whiteouts, and enough of its file list to tell which lower
// files it hides. It depends only on the layer's content and the
// analyzer's version, so it can be cached by diff-id and reused for every
// image that shares the layer.
type LayerResult struct {
	// Key is the cache key: diff-id and analyzer version.
	Key    string `json:"key"`
	DiffID string `json:"diffId"`

	// Files are the files catalogers read, with what each found.
	Files []FileResult `json:"files,omitempty"`
	// Links are the hard links to those files: each is read as the file
	// it links to.
	Links []Link `json:"links,omitempty"`
	// System holds the small files distribution detection reads, by path.
	System map[string][]byte `json:"system,omitempty"`
	// Symlinks maps symbolic links to their targets, as written: those
	// that distribution detection may follow (at a release file's path or
	// pointing to one), not every link of the layer.
	Symlinks map[string]string `json:"symlinks,omitempty"`

	// Whiteouts are the paths this layer deletes from lower layers;
	// Opaques the directories whose lower contents it hides. Dirs and
	// NonDirs are every path in the layer: its directories (named, or
	// implied by the paths beneath them) and the rest. A lower file is
	// hidden by an entry at its own path (in either set), or by a
	// non-directory at one of its ancestors. All four are sets of path
	// hashes, a fixed 16 bytes a path however long it is, each path in
	// one set only unless the layer has it as both; the layer cache
	// stores them after the JSON fields, in binary.
	//
	// A result read from a cache may have the larger sets on disk
	// instead (disk), which these fields then leave empty.
	Whiteouts pathSet `json:"-"`
	Opaques   pathSet `json:"-"`
	Dirs      pathSet `json:"-"`
	NonDirs   pathSet `json:"-"`
	disk      *diskSets

	// Owned records the files the OS package manager installed, per file
	// that says so (a dpkg .list file, apk's installed database).
	Owned []OwnedFiles `json:"owned,omitempty"`

	Warnings []Warning `json:"warnings,omitempty"`

	// Bytes is the size of the uncompressed tar stream; Count the number
	// of entries in it.
	Bytes int64 `json:"bytes"`
	Count int   `json:"count"`
}

// has reports whether the layer has an entry at p.
func (r *LayerResult) has(p string) bool {
	h := hashPath(p)
	return r.setHas(setNonDirs, h) || r.setHas(setDirs, h)
}

// Link is a hard link to a file that catalogers read: Target is that
// file, never another link.
type Link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// FileResult is what the catalogers found in one file.
type FileResult struct {
	Path      string              `json:"path"`
	Cataloger string              `json:"cataloger"`
	Packages  []inventory.Package `json:"packages,omitempty"`

	seq int // the file's place in the layer, during the walk
}

// OwnedFiles are the files one listing file says an OS package installed.
type OwnedFiles struct {
	// List is the file that says so ("var/lib/dpkg/info/curl.list").
	List  string  `json:"list"`
	Owner string  `json:"owner"`
	Files pathSet `json:"files"`
}

// Warning is a problem that did not stop the analysis: a file that could
// not be read, a hostile tar entry that was skipped.
type Warning struct {
	// Layer is the index of the layer, -1 when the warning is not about
	// one layer.
	Layer  int    `json:"layer"`
	DiffID string `json:"diffId,omitempty"`
	// Path is the file concerned, relative to the root ("" if none).
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Incomplete names what could not assess the file ("dpkg", "npm",
	// "release", "ownership"…) when the warning is about a file a
	// cataloger wanted but did not (fully) read: skipped for its size,
	// unreadable, malformed. Such a warning makes the image's coverage
	// partial, so a scan never calls it clean.
	Incomplete string `json:"incomplete,omitempty"`
}

func (w Warning) String() string {
	s := ""
	if w.Layer >= 0 {
		s = fmt.Sprintf("layer %d", w.Layer)
		if w.DiffID != "" {
			s += " (" + shortDigest(w.DiffID) + ")"
		}
		s += ": "
	}
	if w.Path != "" {
		s += "/" + w.Path + ": "
	}
	return s + w.Message
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// LayerStat reports how one layer was analysed.
type LayerStat struct {
	Index  int    `json:"index"`
	DiffID string `json:"diffId,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Size is the stored (compressed) size; Bytes the uncompressed size.
	Size  int64 `json:"size"`
	Bytes int64 `json:"bytes"`
	Files int   `json:"files"`
	// Cached is true when the result came from the layer cache.
	Cached   bool          `json:"cached"`
	Duration time.Duration `json:"durationNs"`
}

// Result is the analysis of one image.
type Result struct {
	Inventory inventory.Inventory `json:"inventory"`
	Layers    []LayerStat         `json:"layers"`
	Warnings  []Warning           `json:"warnings,omitempty"`
}
