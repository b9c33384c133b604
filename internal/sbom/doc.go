// Package sbom writes an image's inventory as a software bill of materials,
// in CycloneDX 1.6 JSON or SPDX 2.3 JSON, and reads such documents back
// into an inventory, whether Vigil or another tool (Syft, Trivy) wrote
// them, so that an SBOM can be scanned like an image.
//
// # What a document carries
//
// Both formats carry, for every package: its type (from the purl), name,
// version, purl, licenses, source package, the layer that introduced it,
// the file it was read from and any further locations, the cataloger,
// the evidence and the metadata; and for the document: the image (name,
// manifest digest, platform, tags, layers) and its distribution.
//
// Where a format has a standard field it is used: CycloneDX
// metadata.component (type "container", version = manifest digest), an
// "operating-system" component for the distribution, purl, licenses and
// evidence.occurrences (one per file, the first being Package.Path); SPDX
// packages with primaryPackagePurpose CONTAINER and OPERATING-SYSTEM
// (spelt OPERATING_SYSTEM in JSON, as the SPDX 2.3 JSON schema requires),
// a PACKAGE-MANAGER purl external reference and licenseDeclared.
//
// Licenses are written as one SPDX expression when every one of them is
// an expression over the SPDX license list; otherwise CycloneDX names
// each license, and SPDX refers to the others as LicenseRef-… defined in
// hasExtractedLicensingInfos. Decode gives back the same list.
//
// The rest is written as CycloneDX properties and, in SPDX, as package
// annotations of type OTHER whose comment is "name=value". The names share
// one namespace, "vigil", following the CycloneDX property taxonomy's
// syntax (":"-separated, lower-case namespaces; like Syft's
// "syft:location:0:layerID" and Trivy's "aquasecurity:trivy:LayerDiffID"):
//
//	vigil:package:cataloger        cataloger that found the package ("dpkg")
//	vigil:package:evidence         "installed" or "declared"
//	vigil:package:arch             architecture (OS purls carry it too, as a qualifier)
//	vigil:source:name              source package (Debian source, Alpine origin, source RPM)
//	vigil:source:version           its version
//	vigil:layer:index              index of the layer that introduced the package, 0 = base
//	vigil:layer:diffId             that layer's diff ID (uncompressed digest)
//	vigil:layer:digest             that layer's blob digest
//	vigil:location:<n>:path        SPDX only: file <n>, 0 being Package.Path (CycloneDX uses evidence.occurrences)
//	vigil:metadata:<key>           Package.Metadata[key], with "." in key written as ":" ("vigil:metadata:go:main")
//	vigil:go:code                  a Go module read from a binary: the JSON of inventory.GoCode
//	                               ({"packages": {PATH: [FUNCTION…]}, "goos", "goarch"}), the
//	                               module's code compiled into the binary, so that a scan of the
//	                               document judges reachability as a scan of the image does
//	vigil:image:platform           on the image: "linux/amd64"
//	vigil:image:repoTag            on the image, once per tag
//	vigil:image:layer:<i>:diffId   on the image: layer <i>'s diff ID
//	vigil:image:layer:<i>:digest   on the image: layer <i>'s blob digest
//	vigil:distro:name              on the distribution: os-release NAME
//	vigil:distro:prettyName        PRETTY_NAME
//	vigil:distro:codename          VERSION_CODENAME
//	vigil:distro:idLike            ID_LIKE, once per entry
//	vigil:distro:source            the file the distribution was read from
//
// # Reproducible output
//
// Given the same subject, inventory, tool and time, the encoders write the
// same bytes. The CycloneDX serial number and the SPDX document namespace,
// which must identify a document, are therefore not random but a UUID
// (version 5, SHA-1 name-based) derived from the rest of the document,
// timestamp included: two runs at different times still get different
// identifiers, as both specifications ask, while a rerun of the same scan
// at the same time (as in tests, or a rebuild that pins the time) is
// byte-identical and can be diffed and cached.
//
// # Reading other tools' documents
//
// Decode keeps components whose purl type is one of Vigil's package types
// and skips the rest (files, binaries found by signature, the image
// itself). It reads the distribution from the CycloneDX operating-system
// component or the SPDX OPERATING-SYSTEM package, else from the purl
// "distro" qualifier of OS packages ("debian-12", or Trivy's bare
// "3.20.3" with the purl namespace as ID). It understands Syft's
// syft:location:<n>:path, syft:location:<n>:layerID and
// syft:package:foundBy properties and the path in its SPDX sourceInfo,
// Trivy's LayerDiffID, LayerDigest, SrcName, SrcVersion, SrcRelease,
// SrcEpoch and FilePath properties and annotations, its "built package
// from:" sourceInfo and its image DiffID and RepoTag properties, and the
// purl "upstream" qualifier for the source package (Syft writes
// "glibc@2.36-9" for Debian, the source RPM's file name for RPM). A
// package's layer index comes from the image's layer list when only the
// layer's diff ID is given. An SPDX document without a CONTAINER package
// (Syft's scan of a directory) gives its name as the subject's.
package sbom
