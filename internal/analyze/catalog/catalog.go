// Package catalog assembles the catalogers Vigil runs by default, one per
// ecosystem.
package catalog

import (
	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/apk"
	"github.com/vigilsec/vigil/internal/analyze/binary"
	"github.com/vigilsec/vigil/internal/analyze/dotnet"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/analyze/gobin"
	"github.com/vigilsec/vigil/internal/analyze/java"
	"github.com/vigilsec/vigil/internal/analyze/npm"
	"github.com/vigilsec/vigil/internal/analyze/php"
	"github.com/vigilsec/vigil/internal/analyze/python"
	"github.com/vigilsec/vigil/internal/analyze/rpm"
	"github.com/vigilsec/vigil/internal/analyze/ruby"
	"github.com/vigilsec/vigil/internal/analyze/rust"
)

// Default returns every cataloger, OS package databases first.
func Default() []analyze.Cataloger {
	return []analyze.Cataloger{
		dpkg.Cataloger{},
		apk.Cataloger{},
		rpm.Cataloger{},
		gobin.Cataloger{},
		rust.Cataloger{},
		npm.Cataloger{},
		python.Cataloger{},
		java.Cataloger{},
		ruby.Cataloger{},
		php.Cataloger{},
		dotnet.Cataloger{},
		binary.Cataloger{},
	}
}
