package report

import (
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	r := testReport(t)
	os.WriteFile("/tmp/out.table", render(t, WriteTable, r, testOptions()), 0644)
	os.WriteFile("/tmp/out.json", render(t, WriteJSON, r, testOptions()), 0644)
	os.WriteFile("/tmp/out.inspector", render(t, WriteInspector, r, testOptions()), 0644)
	os.WriteFile("/tmp/out.sarif", render(t, WriteSARIF, r, testOptions()), 0644)
	os.WriteFile("/tmp/out.cdx", render(t, WriteCycloneDX, r, testOptions()), 0644)
	os.WriteFile("/tmp/out.vex", render(t, WriteOpenVEX, r, testOptions()), 0644)
}
