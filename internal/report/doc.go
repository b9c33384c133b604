// Package report renders a scan.Report in the output formats of
// `vigil scan`: a table for terminals, Vigil's own JSON document, Amazon
// Inspector v2 findings, SARIF 2.1.0 for code-scanning services,
// CycloneDX 1.6 with vulnerabilities, and OpenVEX v0.2.0. Each format is
// one Write function with the same signature, so the CLI picks one by
// name:
//
//	func WriteTable(w io.Writer, r *scan.Report, opts Options) error
//
// Every writer is deterministic: given the same report and Options.Now
// it writes the same bytes, and the identifiers it derives (Inspector
// finding ARNs, SARIF fingerprints, the OpenVEX @id) come from the
// content, not from random numbers, so they stay the same across scans
// of the same image and can be diffed, cached and correlated.
//
// Writers treat the report as untrusted text: descriptions and package
// names come from vulnerability feeds and image contents, so the table
// strips terminal control sequences and every writer bounds the strings
// that its format bounds.
package report
