// Package java catalogs Java archives (.jar, .war, .ear and the Jenkins
// plugin archives .jpi and .hpi) as Maven packages, including the archives
// nested inside them.
//
// Java vulnerability data (OSV's "Maven" ecosystem, GitHub advisories)
// names a package "groupId:artifactId", and a package matches only when
// both parts are right. So the rules, from most to least reliable, are:
//
//   - Each META-INF/maven/<groupId>/<artifactId>/pom.properties is one
//     package, named from its groupId, artifactId and version keys (the
//     directory names stand in for missing name keys; a missing version is
//     an error). Maven writes this file at build time; shaded ("uber")
//     jars keep one per bundled artifact, and each is reported.
//   - An archive without a usable pom.properties (Gradle, Ant and many
//     distribution builds write none) is described from
//     META-INF/MANIFEST.MF and its file name. So is one whose
//     pom.properties are all of artifacts it shades, none with its own
//     artifactId or version (Debian's guice.jar holds only cglib's), when
//     the manifest or file name gives a version. No manifest attribute
//     reliably holds the artifactId (Implementation-Title is a display
//     name, Bundle-SymbolicName an OSGi identifier), so the artifactId is
//     the file name without extension and version: "log4j-core-2.19.0.jar"
//     and "log4j-core.jar" both give "log4j-core". The version is
//     Implementation-Version, else Bundle-Version, else the one in the file
//     name, else Specification-Version; it is empty when none exists.
//   - The groupId of such an archive is a guess, and only dotted groupIds
//     are guessed. First from Bundle-SymbolicName, where it fits the
//     artifactId the way maven-bundle-plugin derives it: "<groupId>.<artifactId>"
//     (com.fasterxml.jackson.core.jackson-databind), "<groupId>.<rest>" for
//     an artifactId "<last part of groupId>-<rest>"
//     (org.apache.logging.log4j.core for org.apache.logging.log4j:log4j-core),
//     or the groupId itself when the artifactId is its last part; where
//     more than one reading fits, a matching Implementation-Vendor-Id
//     decides, else the first. Failing that, a dotted
//     Implementation-Vendor-Id, which maven-jar-plugin fills with the
//     groupId (though some builds fill it with a parent's: log4j has
//     "org.apache"). Metadata "maven.groupId.from" names the attribute
//     used. When nothing fits, Name is the artifactId alone and Metadata
//     "maven.groupId.unknown" is "true": such a package cannot be matched
//     by name, and a matcher must not pretend it can.
//   - The same groupId:artifactId@version is reported once per archive.
//
// Any entry whose name has one of the archive extensions is read as a
// nested archive (WEB-INF/lib/*.jar in a war, BOOT-INF/lib/*.jar in a
// Spring Boot jar, the modules of an ear), and its packages carry the Path
// "/<outer path>!/<entry>", with a further "!/<entry>" per level. The
// outer archive's own packages leave Path empty for the walk to fill.
//
// Archives are untrusted: the central directory, the entry count, the size
// of every entry read, the compression ratio of nested archives, the bytes
// decompressed per file, the nesting depth and the number of nested
// archives are all capped (see defaultLimits), and an archive that exceeds a cap is
// reported in an error naming it and the entry. A nested archive stored
// uncompressed (as Spring Boot requires) is read in place; a compressed one
// is held in memory, or spooled to a temporary file when large.
//
// A file with an archive extension that is not a zip at all yields nothing;
// one with a zip signature in its first 64 KiB that cannot be read (a
// truncated download) is an error. A launcher script in front of the zip
// ("fully executable" Spring Boot jars) is fine.
package java

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// limits bounds the work and memory spent on one file, nested archives
// included.
type limits struct {
	directory int64  // bytes of one central directory read by archive/zip
	entries   int    // entries in one archive
	small     int64  // one pom.properties, or the manifest's main section
	entry     uint64 // uncompressed size of one nested archive
	ratio     uint64 // uncompressed/compressed size of one nested archive
	inMemory  uint64 // a compressed nested archive up to this size is held in memory…
	held      uint64 // …as long as the nested archives held at once stay under this
	total     int64  // bytes decompressed in all
	depth     int    // levels of nesting
	archives  int    // nested archives opened in all
}

// defaultLimits are far above what real archives need: the largest jars
// (AWS SDK bundles) have a few hundred thousand entries in a central
// directory of some tens of MiB, real manifests' main sections are a few
// KiB, and archives inside archives compress by less than 2:1. The
// directory cap is what bounds archive/zip's own memory: it keeps a few
// hundred bytes per entry.
var defaultLimits = limits{
	directory: 32 << 20,
	entries:   1 << 18,
	small:     1 << 20,
	entry:     1 << 30,
	ratio:     100,
	inMemory:  16 << 20,
	held:      32 << 20,
	total:     4 << 30,
	depth:     4,
	archives:  10000,
}

// Cataloger reads Java archives. The zero value is ready to use.
type Cataloger struct {
	// TempDir is where nested archives too large to hold in memory are
	// spooled; empty means the walk's own temporary directory.
	TempDir string

	lim *limits // nil means defaultLimits; tests lower them
}

var _ analyze.Cataloger = Cataloger{}

func (Cataloger) Name() string { return "java" }
func (Cataloger) Version() int { return 1 }

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool { return isArchive(p) }

// isArchive reports whether name has the extension of a Java archive.
func isArchive(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jar", ".war", ".ear", ".jpi", ".hpi":
		return true
	}
	return false
}

func (c Cataloger) Catalog(ctx context.Context, f *analyze.File) ([]inventory.Package, error) {
	lim := defaultLimits
	if c.lim != nil {
		lim = *c.lim
	}
	tmp := c.TempDir
	if tmp == "" {
		tmp = f.TempDir()
	}
	w := &walker{ctx: ctx, lim: lim, tempDir: tmp}
	pkgs := w.archive(f, f.Size, "/"+f.Path, path.Base(f.Path), 0)
	if len(w.errs) > 0 {
		return pkgs, fmt.Errorf("java: %w", w.errs)
	}
	return pkgs, nil
}

// errList is the errors met in one file, several of which may come from
// different nested archives.
type errList []error

// maxShownErrors keeps the message of a file full of broken entries short.
const maxShownErrors = 10

func (e errList) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i == maxShownErrors {
			fmt.Fprintf(&b, "; and %d more errors", len(e)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e errList) Unwrap() []error { return e }
