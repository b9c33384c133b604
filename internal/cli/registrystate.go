package cli

import (
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// maxWhy bounds the reason `vigil images list` prints in its table; the
// whole message is in --json.
const maxWhy = 300

// scanWhy is why an image has no completed scan, or why its completed
// scan could not assess all of it (the coverage reason and the message
// that says more); "-" when it has a full one or is still waiting.
func scanWhy(im store.Image) string {
	switch im.ScanStatus {
	case store.ScanFailed, store.ScanUnsupported, store.ScanInactive:
	case store.ScanComplete:
		if im.ScanReason == "" || im.ScanReason == "SUCCESSFUL" {
			return "-"
		}
	default:
		return "-"
	}
	why := im.ScanReason
	if im.ScanMessage != "" {
		if why != "" {
			why += ": "
		}
		why += strings.Join(strings.Fields(im.ScanMessage), " ")
	}
	if why == "" {
		return "-"
	}
	if r := []rune(why); len(r) > maxWhy {
		why = string(r[:maxWhy]) + "…"
	}
	return why
}
