package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/tempdir"
)

// sourceFlags are the flags of every command that opens an image.
type sourceFlags struct {
	username, password string
	insecure           bool
	platform           string
	noLayerCache       bool
	progress           bool
}

func (s *sourceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.username, "username", "", "registry user name (default: from the Docker config file and credential helpers)")
	fs.StringVar(&s.password, "password", "", "registry password or token")
	fs.BoolVar(&s.insecure, "insecure", false, "allow plain HTTP and unverified TLS for the registry")
	fs.StringVar(&s.platform, "platform", "", "platform to pick from a multi-arch image, os/arch[/variant] (default linux and this machine's architecture)")
	fs.BoolVar(&s.noLayerCache, "no-layer-cache", false, "read every layer, ignoring and not filling the layer cache")
	fs.BoolVar(&s.progress, "progress", true, "show progress on standard error when it is a terminal")
}

const sourceHelp = `SOURCE is one of:
  oci:DIR[:TAG]            an OCI image layout directory
  archive:FILE[:TAG]       a docker save tarball or an OCI archive
  dir:PATH                 a root filesystem directory
  rootfs:FILE.tar[.gz|.zst] a root filesystem tarball
  [registry:]HOST/REPO:TAG or HOST/REPO@sha256:…   an image in a registry
  PATH                     a bare path: see below`

func (s *sourceFlags) imageOptions() []image.Option {
	var opts []image.Option
	if s.username != "" || s.password != "" {
		opts = append(opts, image.WithBasicAuth(s.username, s.password))
	}
	if s.insecure {
		opts = append(opts, image.WithInsecure())
	}
	if s.platform != "" {
		opts = append(opts, image.WithPlatform(s.platform))
	}
	opts = append(opts, image.WithUserAgent("vigil/"+Version()))
	return opts
}

// analyzeSource opens the image named by ref and analyses it.
func (a *app) analyzeSource(ctx context.Context, cmd *cobra.Command, ref string, s *sourceFlags) (*image.Image, *analyze.Result, error) {
	ref, err := resolveSource(ref, false)
	if err != nil {
		return nil, nil, err
	}
	img, err := image.Open(ctx, ref, s.imageOptions()...)
	if err != nil {
		return nil, nil, err
	}
	// Spooled files go to a directory of this process's under the
	// per-user cache (or the configured temporary directory), never
	// straight into $TMPDIR, so that what a killed run leaves is found
	// and removed by the next.
	tmpRoot := a.cfg.TempDir
	if tmpRoot == "" {
		tmpRoot = filepath.Join(a.cfg.CacheDir, "tmp")
	}
	tmp, swept, err := tempdir.Create(tmpRoot)
	if err != nil && a.cfg.TempDir == "" {
		// A read-only home need not stop a scan: the system's
		// temporary directory still gets a swept directory of ours.
		a.log.Warn("cache directory unusable for temporary files; using the system's", "err", err)
		tmp, swept, err = tempdir.Create(filepath.Join(os.TempDir(), fmt.Sprintf("vigil-%d", os.Getuid())))
	}
	if err != nil {
		img.Close()
		return nil, nil, err
	}
	defer tmp.Close()
	for _, p := range swept {
		a.log.Info("removed the temporary directory of a process that is gone", "dir", p)
	}
	opts := []analyze.Option{analyze.WithTempDir(tmp.Path())}
	if a.cfg.LayerCache && !s.noLayerCache {
		c, err := analyze.NewDirCache(filepath.Join(a.cfg.CacheDir, "layers"))
		if err != nil {
			a.log.Warn("layer cache unavailable", "err", err)
		} else {
			opts = append(opts, analyze.WithCache(c))
		}
	}
	var prog *analyze.Progress
	if s.progress && a.env.IsTerminal {
		prog = &analyze.Progress{}
		opts = append(opts, analyze.WithProgress(prog))
	}
	an, err := analyze.New(catalog.Default(), opts...)
	if err != nil {
		img.Close()
		return nil, nil, err
	}
	stop := showProgress(a.env.Err, prog, img.Name)
	res, err := an.Analyze(ctx, img)
	stop()
	if err != nil {
		img.Close()
		return nil, nil, err
	}
	// A root filesystem tarball has no diff-id until it has been read.
	for i, l := range res.Layers {
		if i < len(img.Layers) && img.Layers[i].DiffID == "" {
			img.Layers[i].DiffID = l.DiffID
		}
	}
	for _, w := range res.Warnings {
		a.log.Warn(w.Message, "image", img.Name, "layer", w.Layer, "diffId", w.DiffID, "path", pathOrNone(w.Path))
	}
	return img, res, nil
}

func pathOrNone(p string) string {
	if p == "" {
		return ""
	}
	return "/" + p
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d\nUsage: %s", cmd.Name(), n, len(args), cmd.UseLine())}
		}
		return nil
	}
}
