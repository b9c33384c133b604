package java

import (
	"archive/zip"
	"fmt"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// manifestPackage describes an archive without pom.properties from its
// manifest mf (nil when there is none) and its file name. It returns the
// package even with an error, which then says why the manifest was not
// used.
func (w *walker) manifestPackage(mf *zip.File, fileName string) (inventory.Package, error) {
	var (
		attrs map[string]string
		err   error
	)
	if mf != nil {
		var data []byte
		data, err = w.readHead(mf, w.lim.small)
		if err == nil {
			var complete bool
			attrs, complete = parseManifest(data)
			if !complete && int64(len(data)) > w.lim.small {
				attrs, err = nil, fmt.Errorf("main section longer than %d bytes", w.lim.small)
			}
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", mf.Name, err)
		}
	}
	return describe(attrs, fileName), err
}

// describe applies the package doc's rules to a manifest's main attributes
// (keys in lower case; nil for none) and an archive's file name.
func describe(attrs map[string]string, fileName string) inventory.Package {
	mversion := firstValid(attrs["implementation-version"], attrs["bundle-version"])
	artifact, fversion := splitFileName(fileName, mversion)
	if artifact == "" {
		artifact = fileName // ".jar": no better name to give
	}
	version := firstValid(mversion, fversion, attrs["specification-version"])

	p := inventory.Package{
		Name:      artifact,
		Version:   version,
		Type:      inventory.Maven,
		Cataloger: "java",
		Evidence:  inventory.Installed,
	}
	group, from := guessGroup(attrs["bundle-symbolicname"], attrs["implementation-vendor-id"], artifact)
	if group != "" && validID(artifact) {
		p.Name = group + ":" + artifact
		p.Metadata = map[string]string{"maven.groupId.from": from}
	} else {
		p.Metadata = map[string]string{"maven.groupId.unknown": "true"}
	}
	return p
}

func firstValid(versions ...string) string {
	for _, v := range versions {
		if validVersion(v) {
			return v
		}
	}
	return ""
}

// splitFileName splits an archive's file name into artifactId and
// version. A version known from the manifest that ends the name settles
// the split ("log4j-1.2-api-2.19.0.jar"); otherwise the version starts at
// the first "-" followed by a digit, which keeps qualifiers and
// classifiers with it ("guava-31.1-jre.jar").
func splitFileName(fileName, version string) (artifact, fversion string) {
	stem := fileName
	if isArchive(stem) {
		stem = strings.TrimSuffix(stem, path.Ext(stem))
	}
	if version != "" {
		if a, ok := strings.CutSuffix(stem, "-"+version); ok && a != "" {
			return a, version
		}
	}
	for i := 1; i+1 < len(stem); i++ {
		if stem[i] == '-' && '0' <= stem[i+1] && stem[i+1] <= '9' {
			return stem[:i], stem[i+1:]
		}
	}
	return stem, ""
}

// guessGroup returns the groupId that the manifest's Bundle-SymbolicName
// sn and Implementation-Vendor-Id vendor point to for artifactId a, and
// the attribute it comes from; "" when neither is convincing.
func guessGroup(sn, vendor, a string) (group, from string) {
	sn, _, _ = strings.Cut(sn, ";") // drop directives: "x.y;singleton:=true"
	sn = strings.TrimSpace(sn)
	vendor = strings.TrimSpace(vendor)
	if cands := symbolicNameGroups(sn, a); len(cands) > 0 {
		for _, g := range cands {
			if g == vendor {
				return g, "Bundle-SymbolicName"
			}
		}
		return cands[0], "Bundle-SymbolicName"
	}
	if validID(vendor) && strings.Contains(vendor, ".") && !strings.HasPrefix(vendor, ".") && !strings.HasSuffix(vendor, ".") {
		return vendor, "Implementation-Vendor-Id"
	}
	return "", ""
}

// symbolicNameGroups returns the groupIds from which maven-bundle-plugin
// would derive the symbolic name sn for artifactId a, shortest first.
func symbolicNameGroups(sn, a string) []string {
	if !validID(sn) || !validID(a) {
		return nil
	}
	var out []string
	for i := 1; i <= len(sn); i++ {
		if i < len(sn) && sn[i] != '.' {
			continue
		}
		// The plugin names bundles of one-part groupIds after their
		// first package instead.
		if g := sn[:i]; strings.Contains(g, ".") && symbolicName(g, a) == sn {
			out = append(out, g)
		}
	}
	return out
}

// symbolicName is the Bundle-SymbolicName maven-bundle-plugin gives to
// groupId g and artifactId a when the project sets none: g when a is g's last part, g.rest when a is "<last part>-rest", and
// g.a otherwise.
func symbolicName(g, a string) string {
	last := g[strings.LastIndexByte(g, '.')+1:]
	if a == last {
		return g
	}
	if rest, ok := strings.CutPrefix(a, last+"-"); ok && rest != "" {
		return g + "." + rest
	}
	return g + "." + a
}

// parseManifest returns the main section's attributes of a manifest, keyed
// in lower case as the JDK compares names without case, and whether the
// main section ended within data. Lines end in "\r\n", "\n" or "\r"; a line
// starting with a space continues the one before. Lines that are not
// "Name: value" are skipped: the JDK would reject the manifest, but the
// attributes around such a line still describe the archive.
func parseManifest(data []byte) (attrs map[string]string, complete bool) {
	attrs = make(map[string]string)
	s := string(data)
	var key string
	for s != "" && !complete {
		var line string
		line, s = cutLine(s)
		switch {
		case line == "":
			complete = true
		case line[0] == ' ':
			if key != "" {
				attrs[key] += line[1:]
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				key = ""
				continue
			}
			key = strings.ToLower(k)
			attrs[key] = strings.TrimPrefix(v, " ")
		}
	}
	for k, v := range attrs {
		attrs[k] = strings.TrimSpace(v)
	}
	return attrs, complete
}
