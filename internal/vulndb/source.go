package vulndb

import (
	"fmt"
	"strings"
)

// Kind is the format of a feed.
type Kind string

const (
	// KindOSV is an osv.dev per-ecosystem all.zip, or a directory of OSV
	// JSON records.
	KindOSV Kind = "osv"
	// KindAlpine is one Alpine secdb file (v3.X/main.json).
	KindAlpine Kind = "alpine-secdb"
	// KindDSA and KindDLA are the Debian security tracker's DSA and DLA
	// text lists.
	KindDSA Kind = "debian-dsa"
	KindDLA Kind = "debian-dla"
	// KindDebianTracker is the tracker's JSON export.
	KindDebianTracker Kind = "debian-tracker"
	// KindNVD is a page of the NVD CVE API 2.0.
	KindNVD Kind = "nvd"
	// KindEPSS is FIRST's EPSS scores CSV, usually gzipped.
	KindEPSS Kind = "epss"
	// KindKEV is CISA's Known Exploited Vulnerabilities catalog.
	KindKEV Kind = "kev"
	// KindUpdateInfo is a yum/dnf repository's updateinfo.xml (Amazon
	// Linux's ALAS); its URL is the repository's mirror list.
	KindUpdateInfo Kind = "updateinfo"
	// KindRedHatVEX is Red Hat's CSAF VEX documents, as the dated tar
	// archive Red Hat publishes (csaf_vex_YYYY-MM-DD.tar.zst); its URL
	// is the VEX directory, whose archive_latest.txt names the archive.
	KindRedHatVEX Kind = "redhat-csaf-vex"
	// KindSUSEVEX is SUSE's CSAF VEX documents, as the tar SUSE
	// publishes (csaf-vex.tar.bz2).
	KindSUSEVEX Kind = "suse-csaf-vex"
	// KindOracleOVAL is Oracle Linux's errata (ELSA) in OVAL,
	// com.oracle.elsa-all.xml.bz2.
	KindOracleOVAL Kind = "oracle-oval"
	// KindPhotonOVAL is one Photon OS release's advisories (PHSA) in
	// OVAL, com.vmware.phsa-photonN.xml.
	KindPhotonOVAL Kind = "photon-oval"
)

// priority orders kinds when two feeds publish a record with the same id:
// a distribution's own tracker is preferred over a copy of it.
var priority = map[Kind]int{
	KindDebianTracker: 0, KindDSA: 1, KindDLA: 2, KindAlpine: 3, KindOSV: 4,
	KindNVD: 5, KindKEV: 6, KindEPSS: 7, KindUpdateInfo: 8, KindRedHatVEX: 9, KindSUSEVEX: 10, KindOracleOVAL: 11, KindPhotonOVAL: 12,
}

// Source is one feed: where update downloads it and what format it is in.
type Source struct {
	// Name identifies the feed and names its file in the feeds
	// directory: "osv/Go", "alpine/v3.20/main", "debian/dsa", "epss".
	Name string `yaml:"name" json:"name"`
	Kind Kind   `yaml:"kind" json:"kind"`
	// URL is where `vigil db update` fetches it; empty for feeds that
	// only arrive by `vigil db import`.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
}

// Upstream holds the base locations of the real feeds. Each can be
// pointed at a mirror.
type Upstream struct {
	// OSV is the osv.dev bucket: <OSV>/<Ecosystem>/all.zip.
	OSV string `yaml:"osv"`
	// OSVEcosystems are the OSV ecosystems fetched.
	OSVEcosystems []string `yaml:"osvEcosystems"`
	// Alpine is the secdb site: <Alpine>/<branch>/<repo>.json.
	Alpine         string   `yaml:"alpine"`
	AlpineBranches []string `yaml:"alpineBranches"`
	// DebianTracker is the tracker's JSON export; DebianLists the base
	// of the tracker's data directory (<DebianLists>/DSA/list).
	DebianTracker string `yaml:"debianTracker"`
	DebianLists   string `yaml:"debianLists"`
	EPSS          string `yaml:"epss"`
	KEV           string `yaml:"kev"`
	// NVD is the CVE API 2.0 endpoint. It is off unless set: a full
	// download is 130+ pages, rate limited.
	NVD string `yaml:"nvd"`
	// UpdateInfo are yum/dnf repositories whose updateinfo.xml is
	// fetched (Amazon Linux's advisories), each by its mirror list.
	UpdateInfo []UpdateInfoRepo `yaml:"updateInfo"`
	// RedHatVEX is Red Hat's CSAF VEX directory (RHEL and UBI).
	RedHatVEX string `yaml:"redhatVEX"`
	// SUSEVEX is SUSE's archive of CSAF VEX documents (SLES, openSUSE).
	SUSEVEX string `yaml:"suseVEX"`
	// OracleOVAL is Oracle Linux's ELSA OVAL document.
	OracleOVAL string `yaml:"oracleOVAL"`
	// PhotonOVAL is the directory of Photon OS's OVAL documents,
	// <PhotonOVAL>/com.vmware.phsa-photon<release>.xml, for each of
	// PhotonReleases.
	PhotonOVAL     string   `yaml:"photonOVAL"`
	PhotonReleases []string `yaml:"photonReleases"`
}

// UpdateInfoRepo is one repository publishing updateinfo.xml.
type UpdateInfoRepo struct {
	// Name is the feed's name, "amazon/<release>[/<channel>]": it says
	// which release the advisories are for ("amazon/2",
	// "amazon/2/kernel-5.10", "amazon/2023").
	Name string `yaml:"name"`
	// MirrorList is the repository's mirror.list URL.
	MirrorList string `yaml:"mirrorList"`
}

// DefaultUpstream is where the feeds are published.
func DefaultUpstream() Upstream {
	var branches []string
	for minor := 3; minor <= 22; minor++ {
		branches = append(branches, fmt.Sprintf("v3.%d", minor))
	}
	branches = append(branches, "edge")
	return Upstream{
		OSV: "https://osv-vulnerabilities.storage.googleapis.com",
		// Debian and Alpine come from their own trackers below, so
		// their OSV copies are not fetched by default.
		OSVEcosystems: []string{"Go", "npm", "PyPI", "Maven", "crates.io", "RubyGems", "Packagist", "NuGet",
			"AlmaLinux", "Rocky Linux", "Ubuntu", "Wolfi", "Chainguard"},
		Alpine:         "https://secdb.alpinelinux.org",
		AlpineBranches: branches,
		DebianTracker:  "https://security-tracker.debian.org/tracker/data/json",
		DebianLists:    "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data",
		EPSS:           "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
		KEV:            "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
		// The core repositories' own mirror lists, as yum and dnf on
		// Amazon Linux read them. Amazon Linux 2's extras channels
		// (kernel-5.10, whose advisories are ALAS2KERNEL-5.10-…) have
		// repositories of their own, added here by the config file.
		UpdateInfo: []UpdateInfoRepo{
			{Name: "amazon/2", MirrorList: "http://amazonlinux.default.amazonaws.com/2/core/latest/x86_64/mirror.list"},
			{Name: "amazon/2023", MirrorList: "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list"},
		},
		RedHatVEX:      "https://security.access.redhat.com/data/csaf/v2/vex",
		SUSEVEX:        "https://ftp.suse.com/pub/projects/security/csaf-vex.tar.bz2",
		OracleOVAL:     "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2",
		PhotonOVAL:     "https://packages.vmware.com/photon/photon_oval_definitions",
		PhotonReleases: []string{"3", "4", "5"},
	}
}

// Sources lists the feeds of u.
func (u Upstream) Sources() []Source {
	var out []Source
	base := func(s string) string { return strings.TrimRight(s, "/") }
	if u.OSV != "" {
		for _, e := range u.OSVEcosystems {
			out = append(out, Source{Name: "osv/" + e, Kind: KindOSV, URL: base(u.OSV) + "/" + pathEscape(e) + "/all.zip"})
		}
	}
	if u.Alpine != "" {
		for _, b := range u.AlpineBranches {
			for _, repo := range []string{"main", "community"} {
				out = append(out, Source{Name: "alpine/" + b + "/" + repo, Kind: KindAlpine, URL: base(u.Alpine) + "/" + b + "/" + repo + ".json"})
			}
		}
	}
	if u.DebianTracker != "" {
		out = append(out, Source{Name: "debian/tracker", Kind: KindDebianTracker, URL: u.DebianTracker})
	}
	if u.DebianLists != "" {
		out = append(out,
			Source{Name: "debian/dsa", Kind: KindDSA, URL: base(u.DebianLists) + "/DSA/list"},
			Source{Name: "debian/dla", Kind: KindDLA, URL: base(u.DebianLists) + "/DLA/list"})
	}
	if u.EPSS != "" {
		out = append(out, Source{Name: "epss", Kind: KindEPSS, URL: u.EPSS})
	}
	if u.KEV != "" {
		out = append(out, Source{Name: "kev", Kind: KindKEV, URL: u.KEV})
	}
	if u.NVD != "" {
		out = append(out, Source{Name: "nvd", Kind: KindNVD, URL: u.NVD})
	}
	for _, r := range u.UpdateInfo {
		out = append(out, Source{Name: r.Name, Kind: KindUpdateInfo, URL: r.MirrorList})
	}
	if u.RedHatVEX != "" {
		out = append(out, Source{Name: redHatVEXName, Kind: KindRedHatVEX, URL: u.RedHatVEX})
	}
	if u.SUSEVEX != "" {
		out = append(out, Source{Name: suseVEXName, Kind: KindSUSEVEX, URL: u.SUSEVEX})
	}
	if u.OracleOVAL != "" {
		out = append(out, Source{Name: oracleOVALName, Kind: KindOracleOVAL, URL: u.OracleOVAL})
	}
	if u.PhotonOVAL != "" {
		for _, r := range u.PhotonReleases {
			out = append(out, Source{Name: "photon/" + r, Kind: KindPhotonOVAL, URL: base(u.PhotonOVAL) + "/com.vmware.phsa-photon" + r + ".xml"})
		}
	}
	return out
}

// pathEscape escapes an ecosystem name for a URL path ("Rocky Linux").
func pathEscape(s string) string { return strings.ReplaceAll(s, " ", "%20") }

// validName reports whether a source name is safe to use as a relative
// file name: slash-separated parts of letters, digits and ".-_ ", none of
// them "." or "..".
func validName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("vulndb: invalid source name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return fmt.Errorf("vulndb: invalid source name %q", name)
		}
		for _, c := range part {
			ok := c == '-' || c == '_' || c == '.' || c == ' ' || c == ':' ||
				('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
			if !ok {
				return fmt.Errorf("vulndb: invalid character %q in source name %q", c, name)
			}
		}
	}
	return nil
}
