// Package dbartifact ships Vigil's vulnerability database as an OCI 1.1
// artifact: `vigil serve` publishes each database it gets into its own
// registry as vigil/db, tagged with the database's version and "latest",
// and `vigil db pull` fetches it from there, or from any OCI registry a
// site mirrors it to.
//
// The artifact is an image manifest with artifactType ArtifactType whose
// config (ConfigMediaType) is the database's snapshot — schema, build
// time, content digest, version and every feed's record count and data
// age — and whose layers (PartitionMediaType) are the database's
// partitions (see vulndb.Partition): the advisories of each feed, EPSS,
// KEV, and NVD by CVE year. A partition's encoding is canonical, so one
// that did not change between versions is the same blob: the registry
// stores it once, a mirror copies it once, and a client that holds the
// previous version downloads only the partitions whose digest differs.
// That is the delta; docs/db-artifact.md says why it takes this form.
package dbartifact

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vigilsec/vigil/internal/vulndb"
)

// Media types and annotations of the artifact.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.vigil.db.v1"
	// ConfigMediaType is the config's: a JSON vulndb.Snapshot.
	ConfigMediaType = "application/vnd.vigil.db.config.v1+json"
	// PartitionMediaType is each layer's: one partition, JSON lines
	// (one record a line, sorted by key) compressed with zstd.
	PartitionMediaType = "application/vnd.vigil.db.partition.v1.jsonl+zstd"

	// AnnotationPartition names a layer's partition
	// ("advisories/osv/Go", "epss", "nvd/2024"); AnnotationRows is its
	// record count.
	AnnotationPartition = "vnd.vigil.db.partition"
	AnnotationRows      = "vnd.vigil.db.rows"
	// AnnotationVersion is the database version, on the manifest (beside
	// org.opencontainers.image.version); AnnotationPrevious is the
	// version that "latest" named before this one was published.
	AnnotationVersion  = "vnd.vigil.db.version"
	AnnotationPrevious = "vnd.vigil.db.previous"

	// Repository is where `vigil serve` publishes it.
	Repository = "vigil/db"
)

// maxConfig bounds the config read: a snapshot is a line per feed.
const maxConfig = 4 << 20

// manifestFor makes the artifact's manifest.
func manifestFor(snap vulndb.Snapshot, config []byte, parts []vulndb.Partition, previous string) ([]byte, error) {
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config: ocispec.Descriptor{
			MediaType: ConfigMediaType, Digest: digestOf(config), Size: int64(len(config)),
		},
		Annotations: map[string]string{
			ocispec.AnnotationCreated: snap.Built,
			ocispec.AnnotationVersion: snap.Version,
			ocispec.AnnotationTitle:   "Vigil vulnerability database",
			AnnotationVersion:         snap.Version,
		},
	}
	m.SchemaVersion = 2
	if previous != "" {
		m.Annotations[AnnotationPrevious] = previous
	}
	for _, p := range parts {
		m.Layers = append(m.Layers, ocispec.Descriptor{
			MediaType: PartitionMediaType, Digest: digestString(p.Digest), Size: p.Size,
			Annotations: map[string]string{AnnotationPartition: p.Name, AnnotationRows: strconv.Itoa(p.Rows)},
		})
	}
	return json.Marshal(m)
}

// artifact is a manifest read back: the partitions it lists.
type artifact struct {
	manifest ocispec.Manifest
	parts    []vulndb.Partition
}

// parseManifest reads a manifest and refuses one that is not a Vigil
// database artifact, naming what is wrong.
func parseManifest(raw []byte) (*artifact, error) {
	var a artifact
	if err := json.Unmarshal(raw, &a.manifest); err != nil {
		return nil, fmt.Errorf("the manifest does not parse: %w", err)
	}
	m := &a.manifest
	if m.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("the manifest has media type %q, not %s: not a Vigil database", m.MediaType, ocispec.MediaTypeImageManifest)
	}
	if m.ArtifactType != ArtifactType || m.Config.MediaType != ConfigMediaType {
		return nil, fmt.Errorf("the manifest's artifactType is %q and its config's media type %q, not %s and %s: not a Vigil database",
			m.ArtifactType, m.Config.MediaType, ArtifactType, ConfigMediaType)
	}
	if err := m.Config.Digest.Validate(); err != nil || m.Config.Size <= 0 || m.Config.Size > maxConfig {
		return nil, fmt.Errorf("the manifest's config descriptor (%s, %d bytes) is not valid", m.Config.Digest, m.Config.Size)
	}
	seen := map[string]bool{}
	for i, l := range m.Layers {
		name := l.Annotations[AnnotationPartition]
		rows, err := strconv.Atoi(l.Annotations[AnnotationRows])
		switch {
		case l.MediaType != PartitionMediaType:
			return nil, fmt.Errorf("layer %d (%s) has media type %q, not %s", i, l.Digest, l.MediaType, PartitionMediaType)
		case l.Digest.Validate() != nil || l.Digest.Algorithm() != "sha256":
			return nil, fmt.Errorf("layer %d has digest %q, not sha256:…", i, l.Digest)
		case name == "" || seen[name]:
			return nil, fmt.Errorf("layer %d (%s) names partition %q, empty or named twice", i, l.Digest, name)
		case err != nil || rows < 0 || l.Size <= 0:
			return nil, fmt.Errorf("layer %d (%s, partition %s) says %q records and %d bytes", i, l.Digest, name, l.Annotations[AnnotationRows], l.Size)
		}
		seen[name] = true
		a.parts = append(a.parts, vulndb.Partition{Name: name, Rows: rows, Digest: l.Digest.String(), Size: l.Size})
	}
	if len(a.parts) == 0 {
		return nil, errors.New("the manifest lists no partitions")
	}
	return &a, nil
}
