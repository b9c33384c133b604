package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/sbom"
)

func (a *app) sbomCmd() *cobra.Command {
	var (
		src    sourceFlags
		format string
		output string
	)
	cmd := &cobra.Command{
		Use:   "sbom SOURCE",
		Short: "List the packages inside an image (a software bill of materials)",
		Long: "List every OS and language package inside an image, with the layer that introduced it\n" +
			"and the file it was read from.\n\n" + sourceHelp + "\n\n" + pathHelp,
		Example: "  vigil sbom ./rootfs                     # a table on a terminal, JSON otherwise\n" +
			"  vigil sbom oci:./images/app:latest --format cyclonedx\n" +
			"  vigil sbom registry.local:5000/team/app:1.4 --insecure --format spdx --output app.spdx.json",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("format") && output == "" && a.env.OutIsTerminal {
				format = "table"
			}
			encode, ok := sbomFormats[format]
			if !ok {
				return usageError{fmt.Errorf("unknown --format %q: use table, cyclonedx, spdx or json", format)}
			}
			img, res, err := a.analyzeSource(cmd.Context(), cmd, args[0], &src)
			if err != nil {
				return err
			}
			defer img.Close()
			return writeOutput(a.env.Out, output, func(w io.Writer) error {
				return encode(w, img, res)
			})
		},
	}
	src.register(cmd.Flags())
	cmd.Flags().StringVarP(&format, "format", "f", "json", "output format: table, cyclonedx (1.6 JSON), spdx (2.3 JSON) or json (Vigil's own); table when standard output is a terminal and no --output is given, else json")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

var sbomFormats = map[string]func(io.Writer, *image.Image, *analyze.Result) error{
	"json":  encodeInventoryJSON,
	"table": encodeInventoryTable,
	"cyclonedx": func(w io.Writer, img *image.Image, res *analyze.Result) error {
		return sbom.EncodeCycloneDX(w, subject(img), &res.Inventory, tool(), time.Now().UTC())
	},
	"spdx": func(w io.Writer, img *image.Image, res *analyze.Result) error {
		return sbom.EncodeSPDX(w, subject(img), &res.Inventory, tool(), time.Now().UTC())
	},
}

func tool() sbom.Tool { return sbom.Tool{Name: "vigil", Version: Version()} }

func subject(img *image.Image) sbom.Subject {
	s := sbom.Subject{Name: img.Name, Digest: img.Digest, Platform: img.Platform, RepoTags: img.RepoTags}
	for _, l := range img.Layers {
		s.Layers = append(s.Layers, inventory.LayerRef{Index: l.Index, DiffID: l.DiffID, Digest: l.Digest})
	}
	return s
}

// inventoryDocument is Vigil's own JSON inventory format.
type inventoryDocument struct {
	Schema   string              `json:"schema"`
	Tool     sbom.Tool           `json:"tool"`
	Image    *image.Image        `json:"image"`
	Layers   []analyze.LayerStat `json:"layers"`
	Distro   *inventory.Distro   `json:"distro"`
	Packages []inventory.Package `json:"packages"`
	Warnings []analyze.Warning   `json:"warnings"`
}

func encodeInventoryJSON(w io.Writer, img *image.Image, res *analyze.Result) error {
	doc := inventoryDocument{
		Schema:   "https://vigil.dev/schema/inventory/v1",
		Tool:     tool(),
		Image:    img,
		Layers:   res.Layers,
		Distro:   res.Inventory.Distro,
		Packages: res.Inventory.Packages,
		Warnings: res.Warnings,
	}
	if doc.Warnings == nil {
		doc.Warnings = []analyze.Warning{}
	}
	// The packages are written one at a time rather than marshalled with
	// the rest: an image can hold hundreds of thousands of them, and the
	// document in memory would cost several times the inventory itself.
	doc.Packages = []inventory.Package{}
	rest, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	const slot = "\n  \"packages\": []"
	i := bytes.Index(rest, []byte(slot))
	if i < 0 {
		return errors.New("sbom: no place for the packages in the document")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(rest[:i+len(slot)-1])
	for n, p := range res.Inventory.Packages {
		b, err := json.MarshalIndent(p, "    ", "  ")
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(res.Inventory.Packages) > 0 {
		bw.WriteString("\n  ")
	}
	bw.Write(rest[i+len(slot)-1:])
	bw.WriteString("\n")
	return bw.Flush()
}

// writeOutput writes with fn to path, or to stdout when path is empty. A
// regular file is written beside its final name and renamed into place, so
// a failed run never leaves half a document behind; anything else (a
// device such as /dev/null, a named pipe) is written in place.
func writeOutput(stdout io.Writer, path string, fn func(io.Writer) error) error {
	if path == "" || path == "-" {
		return fn(stdout)
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	t, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(t.Name())
	if err := fn(t); err != nil {
		t.Close()
		return err
	}
	if err := t.Close(); err != nil {
		return err
	}
	if err := os.Chmod(t.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(t.Name(), path)
}
