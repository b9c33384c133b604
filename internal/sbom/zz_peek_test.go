package sbom

import (
	"bytes"
	"fmt"
	"testing"
)

func TestPeek(t *testing.T) {
	for _, f := range []string{"syft-debian-bookworm.spdx.json", "syft-alpine-3.20.3.spdx.json", "syft-alpine-3.20.3.cdx.json"} {
		s, inv, err := Decode(bytes.NewReader(readTestdata(t, "thirdparty/"+f)))
		fmt.Println(f, err, s.Name, inv.Distro)
		for _, p := range inv.Packages {
			if p.Name == "login" || p.Name == "libc6" || p.Name == "ca-certificates-bundle" || p.Name == "musl-utils" {
				fmt.Printf("  %+v %+v\n", p, p.Source)
			}
		}
	}
}
