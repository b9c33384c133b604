package updateinfo

import (
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestPageURL checks the page of each ALAS against Amazon's own RSS
// feeds (as kept in the shared samples), which name each advisory
// "ALAS-…" and link its page; the repositories' updateinfo.xml names the
// same advisory ALAS2-… (Amazon Linux 2) or ALAS2023-… (2023).
func TestPageURL(t *testing.T) {
	n := 0
	for file, prefix := range map[string]string{"2_0_rss.xml": "ALAS2-", "2023_rss.xml": "ALAS2023-"} {
		b, err := os.ReadFile(testenv.Shared(t, "vulndb/samples/vunnel/amazon/input/"+file))
		if err != nil {
			t.Fatal(err)
		}
		var rss struct {
			Items []struct {
				Title string `xml:"title"`
				Link  string `xml:"link"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(b, &rss); err != nil {
			t.Fatal(err)
		}
		for _, it := range rss.Items {
			id, _, _ := strings.Cut(it.Title, " ")
			rest, ok := strings.CutPrefix(id, "ALAS-")
			if !ok {
				continue
			}
			n++
			if got := PageURL(prefix + rest); got != strings.TrimSpace(it.Link) {
				t.Errorf("%s%s: %s, want %s", prefix, rest, got, it.Link)
			}
		}
	}
	if n < 2 {
		t.Fatalf("only %d RSS items", n)
	}
	if PageURL("ALAS2KERNEL-5.10-2024-045") != "" || PageURL("RHSA-2024:1") != "" {
		t.Error("a page made up for an id whose page is not known")
	}
}
