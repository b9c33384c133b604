package cli

import (
	"os"

	"github.com/vigilsec/vigil/internal/scan"
)

// ignoreRules reads the ignore file named by --ignorefile or, without
// one, those Trivy and Grype would read from the working directory
// (.trivyignore; .grype.yaml, .grype.yml or .grype/config.yaml), so that
// a project's existing suppressions carry over. Each file read is
// logged, as is each of its rules that has no reason or cannot apply.
func (a *app) ignoreRules(named string) (*scan.IgnoreFile, error) {
	var files []string
	if named != "" {
		files = []string{named}
	} else {
		for _, alternatives := range scan.DefaultIgnoreFiles {
			for _, name := range alternatives {
				if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
					files = append(files, name)
					break
				}
			}
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	all := &scan.IgnoreFile{}
	for _, name := range files {
		ig, warnings, err := scan.ReadAnyIgnoreFile(name)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			a.log.Warn(w)
		}
		if named == "" {
			a.log.Info("ignore rules read from the working directory", "file", name, "rules", len(ig.Ignore))
		}
		all.Ignore = append(all.Ignore, ig.Ignore...)
	}
	return all, nil
}
