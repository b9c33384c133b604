package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/image"
)

// encodeInventoryTable writes the inventory for a person: one line per
// package with its type, the layer that introduced it and the file it
// was read from, under a line naming the image and its distribution.
// Names and paths come from the image, so characters that a terminal
// would act on are dropped.
func encodeInventoryTable(w io.Writer, img *image.Image, res *analyze.Result) error {
	bw := bufio.NewWriter(w)
	distro := "no distribution detected"
	if d := res.Inventory.Distro; d != nil {
		distro = d.String()
	}
	fmt.Fprintf(bw, "%s (%s): %d packages\n\n", printable(img.Name), printable(distro), len(res.Inventory.Packages))
	tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tLAYER\tPATH")
	for _, p := range res.Inventory.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", printable(p.Name), printable(p.Version), printable(string(p.Type)), p.Layer.Index, printable(p.Path))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, wn := range res.Warnings {
		fmt.Fprintf(bw, "\nwarning: %s", printable(wn.Message))
		if wn.Path != "" {
			fmt.Fprintf(bw, " (/%s)", printable(wn.Path))
		}
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// printable drops control characters, C1 codes and bidirectional
// overrides, and makes tabs and newlines spaces, so a value cannot
// rewrite the terminal or break the table.
func printable(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			return ' '
		case c < 0x20 || c == 0x7f || (0x80 <= c && c < 0xa0) ||
			(0x202a <= c && c <= 0x202e) || (0x2066 <= c && c <= 0x2069) || c == utf8.RuneError:
			return -1
		}
		return c
	}, s)
}
