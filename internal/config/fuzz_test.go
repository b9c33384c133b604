package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzLoad loads arbitrary configuration files: a refused file is named
// in the error; an accepted one, written back as YAML, loads again to the
// same configuration (its YAML form is a fixed point).
func FuzzLoad(f *testing.F) {
	// The README's example, and rules and policies as the API takes them.
	f.Add([]byte(`db:
  maxAge: 168h
  upstream:
    osv: https://osv-mirror.internal/osv
    osvEcosystems: [Go, npm, PyPI, Maven]
    nvd: https://services.nvd.nist.gov/rest/json/cves/2.0
  nvdApiKey: ...          # or $VIGIL_NVD_API_KEY
`))
	f.Add([]byte(`cacheDir: /var/cache/vigil
layerCache: false
tempDir: /tmp
rules:
  - Name: ec2-stopping
    EventPattern: '{"source":["aws.ec2"]}'
    Targets: [{Id: log, Type: log}]
gate:
  timeout: 15m
  policies:
    - {name: strict, repository: 'team/*', maxCritical: 0, maxHigh: 0, fixableOnly: true}
`))
	f.Add([]byte("db: {maxAge: 1.5}\nunknown: 1\n"))
	f.Add([]byte("rules: [&a {x: *a}]\n"))
	dir := f.TempDir()
	env := func(k string) string {
		if k == "HOME" {
			return dir
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(name, env)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: "+name) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		once, err := yaml.Marshal(&c)
		if err != nil {
			t.Fatalf("an accepted configuration does not marshal: %v", err)
		}
		if err := os.WriteFile(name, once, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := Load(name, env)
		if err != nil {
			t.Fatalf("the configuration written back is refused: %v\n%s", err, once)
		}
		twice, err := yaml.Marshal(&c2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("written back:\n%s\nthen:\n%s", once, twice)
		}
	})
}
